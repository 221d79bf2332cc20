"""The meters' ledger tables, field for field the records of meters.ledger.records.

Written only by block application (chain.store, one upsert per table per
block); everything else reads them. Energy in Wh, power in W, money in units.
"""

from django.db import models
from django.db.models import Q

from meters.ledger import records


class MeterKind(models.TextChoices):
    SOLAR = "solar", "Solar"
    WIND = "wind", "Wind"
    HYDRO = "hydro", "Hydro"
    BIOMASS = "biomass", "Biomass"
    CONSUMPTION = "consumption", "Consumption"


class Meter(models.Model):
    ledger_record = records.Meter

    meter_id = models.CharField(max_length=64, primary_key=True)
    owner = models.CharField(max_length=64)
    region = models.CharField(max_length=32)
    kind = models.CharField(max_length=16, choices=MeterKind.choices)
    rated_capacity_w = models.BigIntegerField()
    registered_by = models.CharField(max_length=64)
    registered_height = models.BigIntegerField()
    revoked_height = models.BigIntegerField()
    last_window_start_ms = models.BigIntegerField()
    last_window_end_ms = models.BigIntegerField()
    readings = models.BigIntegerField()
    import_wh_total = models.BigIntegerField()
    export_wh_total = models.BigIntegerField()
    minted_wh_total = models.BigIntegerField()
    minted_units_total = models.BigIntegerField()
    reward_carry = models.BigIntegerField()

    class Meta:
        ordering = ["region", "meter_id"]
        constraints = [
            models.CheckConstraint(
                name="meter_amounts_in_range",
                condition=Q(rated_capacity_w__gt=0)
                & Q(import_wh_total__gte=0)
                & Q(export_wh_total__gte=0)
                & Q(reward_carry__gte=0),
            )
        ]
        indexes = [models.Index(fields=["owner"], name="meter_owner")]

    def __str__(self) -> str:
        return f"{self.kind} meter {self.meter_id[:10]}…"

    @property
    def active(self) -> bool:
        return not self.revoked_height

    @property
    def renewable(self) -> bool:
        return self.kind in records.RENEWABLE_KINDS


class SlotEnergy(models.Model):
    ledger_record = records.SlotEnergy

    slot_energy_id = models.CharField(max_length=96, primary_key=True)
    owner = models.CharField(max_length=64)
    delivery_slot_ms = models.BigIntegerField()
    import_wh = models.BigIntegerField()
    export_wh = models.BigIntegerField()
    renewable_export_wh = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["owner", "delivery_slot_ms"], name="slot_energy_owner")]

    def __str__(self) -> str:
        return self.slot_energy_id
