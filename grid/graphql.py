"""The grid's part of the GraphQL schema: regions with their latest figures, history, paths, the alarm.

Same selectors and same integers as the REST reads (grid.api): frequency in mHz,
voltage in per-mille of nominal, load and generation in kW, shares in ppm,
carbon intensity in g CO2/kWh. Public, as the grid is.
"""

import strawberry

from chain.api import errors
from chain.graphql import BigInt, bounded_limit, refused
from grid import selectors


@strawberry.type(description="A region's latest authority report.")
class RegionStatus:
    time_ms: BigInt
    height: BigInt
    reporter: str
    frequency_mhz: BigInt
    voltage_permille: BigInt
    load_kw: BigInt
    generation_kw: BigInt
    renewable_ppm: BigInt
    carbon_g_per_kwh: BigInt


@strawberry.type(description="A genesis region (GET /api/v1/grid/regions/).")
class Region:
    id: str
    name: str
    utility: str
    status: RegionStatus | None = strawberry.field(description="Null before the first report.")


@strawberry.type(description="Set while some region's frequency is out of band: cross-zone fills pause.")
class GridAlarm:
    active: bool
    region: str
    frequency_mhz: BigInt
    since_ms: BigInt
    paused_until_slot_ms: BigInt
    height: BigInt


@strawberry.type(description="A sample of a region's history; per-minute ones carry the minute's extremes.")
class GridSample:
    bucket_ms: BigInt
    time_ms: BigInt
    frequency_mhz: BigInt
    frequency_min_mhz: BigInt
    frequency_max_mhz: BigInt
    voltage_permille: BigInt
    load_kw: BigInt
    generation_kw: BigInt
    renewable_ppm: BigInt
    carbon_g_per_kwh: BigInt


@strawberry.type(description="The grid operator's last limit on a path, whatever its slots.")
class PathLimit:
    congested: bool
    capacity_mw: BigInt
    from_slot_ms: BigInt
    until_slot_ms: BigInt
    height: BigInt
    reason: str


@strawberry.type(description="A transmission path in one delivery slot (GET /api/v1/grid/paths/).")
class TransmissionPath:
    path_id: str = strawberry.field(description="The two zones, sorted, joined by ':'.")
    zone_from: str
    zone_to: str
    nominal_capacity_mw: BigInt
    capacity_mw: BigInt = strawberry.field(description="After the operator's limit and the pause.")
    wheeling_fee_per_kwh: BigInt
    slot_ms: BigInt
    used_wh: BigInt
    capacity_wh: BigInt
    used_ppm: BigInt
    flow_kw: BigInt | None
    flow_ppm: BigInt | None
    congested: bool
    limited: bool
    paused: bool
    limit: PathLimit | None


REGION_FIELDS = ("id", "name", "utility", "status")
PATH_FIELDS = tuple(TransmissionPath.__annotations__)


@strawberry.type
class GridQuery:
    @strawberry.field(description="Every region with its latest figures.")
    def regions(self) -> list[Region]:
        return [Region(**{f: region[f] for f in REGION_FIELDS}) for region in selectors.regions_latest()]

    @strawberry.field(description="The frequency alarm, null when none is active.")
    def grid_alarm(self) -> GridAlarm | None:
        return selectors.alarm_active()

    @strawberry.field(
        description="A region's samples, oldest first: per second (resolution 1, the last five minutes) "
        "or per minute (60, the last day)."
    )
    def region_history(self, region: str, resolution_s: int = 60, limit: int = 240) -> list[GridSample]:
        if selectors.region_info(region) is None:
            raise refused("unknown_region", "There is no region with this id.")
        if resolution_s not in (1, 60):
            raise refused(errors.BAD_QUERY, "resolution must be 1 or 60.")
        bounded_limit(limit, selectors.MAX_HISTORY)
        return selectors.region_history(region=region, resolution_s=resolution_s, limit=limit)

    @strawberry.field(
        description="Each transmission path in a delivery slot (default: the one delivered now)."
    )
    def transmission_paths(self, slot_ms: BigInt | None = None) -> list[TransmissionPath]:
        params = selectors.chain_params()
        if slot_ms is not None and slot_ms % selectors.grid_rules(params).slot_ms:
            raise refused(
                errors.BAD_QUERY, "slot must be a slot start in Unix ms (a multiple of the slot length)."
            )
        return [
            TransmissionPath(**{f: path[f] for f in PATH_FIELDS})
            for path in selectors.paths_status(slot_ms=slot_ms, params=params)
        ]
