"""The grid's read path: latest figures per region, history, paths with usage and limits, the alarm.

Figures stay integers (mHz, per-mille, kW, ppm, g/kWh); templates and the API
format them. Everything here is public: anyone may watch the grid.
"""

import time

from chain.models import ChainHead
from grid.ledger.records import FREQUENCY_ALARM, SECOND_RING
from grid.ledger.rules import GridRules, grid_rules_of
from grid.models import GridAlarm, GridSample, PathLimit, PathStatus, RegionStatus
from trading.models import LineUsage

MAX_HISTORY = 1440


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def chain_params() -> dict:
    return ChainHead.objects.only("params").get().params


def grid_rules(params: dict | None = None) -> GridRules:
    return grid_rules_of(params or chain_params())


def regions_latest(params: dict | None = None) -> list[dict]:
    """Every genesis region with its latest report (None before the first)."""
    params = params or chain_params()
    latest = {s.region: s for s in RegionStatus.objects.all()}
    regions = []
    for r in params["regions"]:
        status = latest.get(r["id"])
        balance = None if status is None else status.generation_kw - status.load_kw
        regions.append(
            {
                "id": r["id"],
                "name": r["name"],
                "utility": r["utility"],
                "status": status,
                "balance_kw": balance,
            }
        )
    return regions


FIGURES = (
    "time_ms",
    "frequency_mhz",
    "voltage_permille",
    "load_kw",
    "generation_kw",
    "renewable_ppm",
    "carbon_g_per_kwh",
)


SAMPLE_FIGURES = (
    "bucket_ms",
    "frequency_mhz",
    "frequency_min_mhz",
    "frequency_max_mhz",
    "load_kw",
    "generation_kw",
    "renewable_ppm",
    "carbon_g_per_kwh",
)


def region_figures(regions: list[dict]) -> list[dict]:
    """The latest figures as plain dicts (the dashboard's charts start from them)."""
    return [
        {"region": r["id"], "name": r["name"], **{f: getattr(r["status"], f) for f in FIGURES}}
        for r in regions
        if r["status"] is not None
    ]


def region_info(region_id: str, params: dict | None = None) -> dict | None:
    params = params or chain_params()
    for r in params["regions"]:
        if r["id"] == region_id:
            status = RegionStatus.objects.filter(region=region_id).first()
            return {"id": r["id"], "name": r["name"], "utility": r["utility"], "status": status}
    return None


def region_history(*, region: str, resolution_s: int = 60, limit: int = 240) -> list[GridSample]:
    """A region's samples, oldest first: per second (last five minutes) or per minute (last day)."""
    samples = GridSample.objects.filter(region=region, resolution_s=resolution_s).order_by("-bucket_ms")
    return list(reversed(samples[:limit]))


def frequency_series(*, seconds: int = 120) -> dict:
    """Per-second frequency of every region over the last ``seconds`` reported, for the live chart."""
    seconds = min(seconds, SECOND_RING)
    newest = (
        GridSample.objects.filter(resolution_s=1).order_by("-bucket_ms").values_list("bucket_ms", flat=True)
    )
    last = newest.first()
    if last is None:
        return {"times": [], "regions": {}}
    rows = GridSample.objects.filter(resolution_s=1, bucket_ms__gt=last - seconds * 1000).order_by(
        "bucket_ms"
    )
    times = sorted({row.bucket_ms for row in rows})
    index = {t: i for i, t in enumerate(times)}
    regions: dict[str, list] = {}
    for row in rows:
        series = regions.setdefault(row.region, [None] * len(times))
        series[index[row.bucket_ms]] = row.frequency_mhz
    return {"times": times, "regions": regions}


def paths_status(*, slot_ms: int | None = None, params: dict | None = None) -> list[dict]:
    """Each transmission path: capacity, the operator's limit, reported flow, the market's use.

    ``slot_ms`` (default: the slot being delivered now) picks whose LineUsage
    and whose limit apply. Capacity figures in Wh per slot and in MW.
    """
    params = params or chain_params()
    rules = grid_rules(params)
    slot_ms = slot_ms if slot_ms is not None else now_ms() // rules.slot_ms * rules.slot_ms
    flows = {p.path_id: p for p in PathStatus.objects.all()}
    limits = {p.path_id: p for p in PathLimit.objects.all()}
    usage = {f"{u.zone_a}:{u.zone_b}": u.used_wh for u in LineUsage.objects.filter(delivery_slot_ms=slot_ms)}
    alarm = GridAlarm.objects.filter(name=FREQUENCY_ALARM, active=True).first()
    paused = alarm is not None and slot_ms < alarm.paused_until_slot_ms
    paths = []
    for p in params["transmission"]:
        a, b = sorted((p["from"], p["to"]))
        pid = f"{a}:{b}"
        limit = limits.get(pid)
        applies = (
            limit is not None
            and limit.from_slot_ms <= slot_ms
            and (not limit.until_slot_ms or slot_ms < limit.until_slot_ms)
        )
        capacity_mw = p["capacity_mw"]
        if applies:
            capacity_mw = 0 if limit.congested else min(capacity_mw, limit.capacity_mw)
        if paused:
            capacity_mw = 0
        flow = flows.get(pid)
        used_wh = usage.get(pid, 0)
        capacity_wh = rules.capacity_wh_per_slot(capacity_mw)
        paths.append(
            {
                "path_id": pid,
                "zone_from": p["from"],
                "zone_to": p["to"],
                "nominal_capacity_mw": p["capacity_mw"],
                "capacity_mw": capacity_mw,
                "wheeling_fee_per_kwh": p["wheeling_fee_per_kwh"],
                "slot_ms": slot_ms,
                "used_wh": used_wh,
                "capacity_wh": capacity_wh,
                "used_ppm": used_wh * 1_000_000 // capacity_wh
                if capacity_wh
                else (1_000_000 if used_wh else 0),
                "flow_kw": None
                if flow is None
                else (flow.flow_kw if flow.zone_a == p["from"] else -flow.flow_kw),
                "flow_ppm": None
                if flow is None
                else abs(flow.flow_kw) * 1_000_000 // (p["capacity_mw"] * 1000),
                "congested": applies and limit.congested,
                "limited": applies,
                "paused": paused,
                "limit": limit,
            }
        )
    return paths


def alarm_active() -> GridAlarm | None:
    return GridAlarm.objects.filter(name=FREQUENCY_ALARM, active=True).first()
