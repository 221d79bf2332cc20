"""The grid's ledger tables, field for field the records of grid.ledger.records.

Written only by block application (chain.store, one upsert per table per
block); everything else reads them. Frequency in mHz, voltage in per-mille of
nominal, power in kW, renewable share in ppm, carbon intensity in g CO2/kWh,
times in Unix ms.
"""

from django.db import models

from grid.ledger import records


class RegionStatus(models.Model):
    ledger_record = records.RegionStatus

    region = models.CharField(max_length=32, primary_key=True)
    time_ms = models.BigIntegerField()
    height = models.BigIntegerField()
    reporter = models.CharField(max_length=64)
    frequency_mhz = models.BigIntegerField()
    voltage_permille = models.BigIntegerField()
    load_kw = models.BigIntegerField()
    generation_kw = models.BigIntegerField()
    renewable_ppm = models.BigIntegerField()
    carbon_g_per_kwh = models.BigIntegerField()

    def __str__(self) -> str:
        return self.region


class GridSample(models.Model):
    """A slot of a region's history ring (per second or per minute), see the record."""

    ledger_record = records.GridSample

    sample_id = models.CharField(max_length=64, primary_key=True)
    region = models.CharField(max_length=32)
    resolution_s = models.BigIntegerField()
    bucket_ms = models.BigIntegerField()
    time_ms = models.BigIntegerField()
    frequency_mhz = models.BigIntegerField()
    frequency_min_mhz = models.BigIntegerField()
    frequency_max_mhz = models.BigIntegerField()
    voltage_permille = models.BigIntegerField()
    load_kw = models.BigIntegerField()
    generation_kw = models.BigIntegerField()
    renewable_ppm = models.BigIntegerField()
    carbon_g_per_kwh = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["region", "resolution_s", "bucket_ms"], name="grid_sample_series")]

    def __str__(self) -> str:
        return self.sample_id


class PathStatus(models.Model):
    ledger_record = records.PathStatus

    path_id = models.CharField(max_length=72, primary_key=True)
    zone_a = models.CharField(max_length=32)
    zone_b = models.CharField(max_length=32)
    time_ms = models.BigIntegerField()
    height = models.BigIntegerField()
    flow_kw = models.BigIntegerField()

    def __str__(self) -> str:
        return self.path_id


class PathLimit(models.Model):
    ledger_record = records.PathLimit

    path_id = models.CharField(max_length=72, primary_key=True)
    zone_a = models.CharField(max_length=32)
    zone_b = models.CharField(max_length=32)
    congested = models.BooleanField()
    capacity_mw = models.BigIntegerField()
    from_slot_ms = models.BigIntegerField()
    until_slot_ms = models.BigIntegerField()
    height = models.BigIntegerField()
    reason = models.CharField(max_length=140, blank=True)

    def __str__(self) -> str:
        return self.path_id


class GridAlarm(models.Model):
    ledger_record = records.GridAlarm

    name = models.CharField(max_length=32, primary_key=True)
    active = models.BooleanField()
    region = models.CharField(max_length=32, blank=True)
    frequency_mhz = models.BigIntegerField()
    since_ms = models.BigIntegerField()
    paused_until_slot_ms = models.BigIntegerField()
    height = models.BigIntegerField()

    def __str__(self) -> str:
        return self.name
