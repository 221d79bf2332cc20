"""The grid's ledger records: latest figures per region and path, bounded history, operator limits.

All of them are in the state root. Reports arrive every second, so history is
kept in fixed rings (``GridSample``) instead of a row per report: the state
holds at most ``SECOND_RING`` per-second samples and ``MINUTE_RING`` per-minute
samples per region, overwritten in turn, whatever the chain's age. Figures are
integers: frequency in mHz, voltage in per-mille of nominal, power in kW,
renewable share in ppm, carbon intensity in g CO2/kWh, times in Unix ms.
"""

from dataclasses import dataclass
from typing import ClassVar

#: Per-second samples kept per region (five minutes) and per-minute ones (a day).
SECOND_RING = 300
MINUTE_RING = 1440
FREQUENCY_ALARM = "frequency"


@dataclass(frozen=True, slots=True)
class RegionStatus:
    """The latest report of one region."""

    table: ClassVar[str] = "grid_region"
    region: str
    time_ms: int
    height: int
    reporter: str
    frequency_mhz: int
    voltage_permille: int
    load_kw: int
    generation_kw: int
    renewable_ppm: int
    carbon_g_per_kwh: int

    @property
    def key(self) -> str:
        return self.region


@dataclass(frozen=True, slots=True)
class GridSample:
    """One slot of a region's history ring: the last report of its second or minute.

    ``resolution_s`` is 1 or 60; ``bucket_ms`` the second or minute the sample
    covers; the frequency extremes are over the reports of that bucket.
    """

    table: ClassVar[str] = "grid_sample"
    sample_id: str
    region: str
    resolution_s: int
    bucket_ms: int
    time_ms: int
    frequency_mhz: int
    frequency_min_mhz: int
    frequency_max_mhz: int
    voltage_permille: int
    load_kw: int
    generation_kw: int
    renewable_ppm: int
    carbon_g_per_kwh: int

    @property
    def key(self) -> str:
        return self.sample_id

    @staticmethod
    def id_of(region: str, resolution_s: int, bucket_ms: int) -> str:
        ring = SECOND_RING if resolution_s == 1 else MINUTE_RING
        return f"{region}:{resolution_s}:{bucket_ms // (resolution_s * 1000) % ring}"


@dataclass(frozen=True, slots=True)
class PathStatus:
    """The latest reported flow on a transmission path: positive from zone_a to zone_b."""

    table: ClassVar[str] = "grid_path"
    path_id: str
    zone_a: str
    zone_b: str
    time_ms: int
    height: int
    flow_kw: int

    @property
    def key(self) -> str:
        return self.path_id


@dataclass(frozen=True, slots=True)
class PathLimit:
    """The grid operator's limit on a path for delivery slots [from_slot_ms, until_slot_ms).

    ``until_slot_ms`` 0 means open-ended. Congested: no cross-zone fill over the
    path; otherwise at most ``capacity_mw``. A new limit replaces the path's last.
    """

    table: ClassVar[str] = "grid_path_limit"
    path_id: str
    zone_a: str
    zone_b: str
    congested: bool
    capacity_mw: int
    from_slot_ms: int
    until_slot_ms: int
    height: int
    reason: str

    @property
    def key(self) -> str:
        return self.path_id

    def covers(self, slot_ms: int) -> bool:
        return self.from_slot_ms <= slot_ms and (not self.until_slot_ms or slot_ms < self.until_slot_ms)


@dataclass(frozen=True, slots=True)
class GridAlarm:
    """Frequency outside the normal band: cross-zone fills pause for slots before ``paused_until_slot_ms``.

    Active while the latest report of some region is out of band; the first
    report with every region back in band clears it.
    """

    table: ClassVar[str] = "grid_alarm"
    name: str
    active: bool
    region: str
    frequency_mhz: int
    since_ms: int
    paused_until_slot_ms: int
    height: int

    @property
    def key(self) -> str:
        return self.name


def path_id(zone_a: str, zone_b: str) -> str:
    a, b = sorted((zone_a, zone_b))
    return f"{a}:{b}"
