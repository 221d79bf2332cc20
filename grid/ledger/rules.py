"""Grid rules from the genesis parameters ([grid] in thai_market.toml) and payload checks.

Stateless and integer-only: frequency in mHz, voltage in per-mille of nominal,
power in kW, shares in ppm, carbon intensity in g CO2/kWh, times in Unix ms.
"""

from dataclasses import dataclass

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.fields import is_identifier, require_bool, require_text
from chain.ledger.tx import is_int, require_fields

# Error codes of the grid, importable by views and tests.
NOT_AUTHORITY = "not_authority"
NOT_GRID_OPERATOR = "not_grid_operator"
UNKNOWN_REGION = "unknown_region"
UNKNOWN_PATH = "unknown_path"
BAD_FIGURE = "bad_figure"
REPORT_IN_FUTURE = "report_in_future"
REPORT_TOO_OLD = "report_too_old"
STALE_REPORT = "stale_report"
BAD_SLOT = "bad_slot"
SLOT_NOT_FUTURE = "slot_not_future"

#: Physically possible figures; anything outside is a broken or lying reporter.
FIGURE_RANGES = {
    "frequency_mhz": (40_000, 60_000),
    "voltage_permille": (500, 1_500),
    "load_kw": (0, 200_000_000),
    "generation_kw": (0, 200_000_000),
    "renewable_ppm": (0, 1_000_000),
    "carbon_g_per_kwh": (0, 2_000),
}
MAX_FLOW_KW = 200_000_000
REASON_MAX = 140
MS_PER_MINUTE = 60_000

REGION_FIELDS = {"region", *FIGURE_RANGES}
PATH_FIELDS = {"zone_a", "zone_b", "flow_kw"}
REPORT_FIELDS = {"time_ms", "regions", "paths"}
LIMIT_FIELDS = {"zone_a", "zone_b", "from_slot", "until_slot", "congested", "capacity_mw", "reason"}

#: [grid] parameters and their values when a genesis predates them.
DEFAULTS = {
    "nominal_frequency_mhz": 50_000,
    "frequency_band_low_mhz": 49_500,
    "frequency_band_high_mhz": 50_500,
    "frequency_pause_slots": 2,
    "report_max_ahead_ms": 5_000,
    "report_max_age_ms": 600_000,
}


@dataclass(frozen=True)
class GridRules:
    regions: tuple[str, ...]
    #: Path id "a:b" (sorted zones) to its nominal capacity in MW.
    capacity_mw: dict[str, int]
    slot_ms: int
    gate_closure_ms: int
    nominal_frequency_mhz: int
    frequency_band_low_mhz: int
    frequency_band_high_mhz: int
    frequency_pause_slots: int
    report_max_ahead_ms: int
    report_max_age_ms: int

    @classmethod
    def of(cls, params: dict) -> "GridRules":
        grid = {name: params.get(name, default) for name, default in DEFAULTS.items()}
        paths = {}
        for p in params["transmission"]:
            a, b = sorted((p["from"], p["to"]))
            paths[f"{a}:{b}"] = p["capacity_mw"]
        return cls(
            regions=tuple(r["id"] for r in params["regions"]),
            capacity_mw=paths,
            slot_ms=params["slot_minutes"] * MS_PER_MINUTE,
            gate_closure_ms=params["gate_closure_minutes"] * MS_PER_MINUTE,
            **grid,
        )

    def in_band(self, frequency_mhz: int) -> bool:
        return self.frequency_band_low_mhz <= frequency_mhz <= self.frequency_band_high_mhz

    def first_open_slot_ms(self, now_ms: int) -> int:
        """The earliest delivery slot still taking orders at ``now_ms`` (as the market's rules)."""
        return (now_ms + self.gate_closure_ms) // self.slot_ms * self.slot_ms + self.slot_ms

    def capacity_wh_per_slot(self, capacity_mw: int) -> int:
        return capacity_mw * 1_000_000 * self.slot_ms // 3_600_000


_last: tuple[dict | None, GridRules | None] = (None, None)


def grid_rules_of(params: dict) -> GridRules:
    """Rules of ``params``, remembered for the last params object (blocks reuse one)."""
    global _last
    cached, rules = _last
    if cached is not params:
        rules = GridRules.of(params)
        _last = (params, rules)
    return rules


def _whole(value, field: str, low: int, high: int) -> int:
    if not is_int(value) or not low <= value <= high:
        raise LedgerError(
            BAD_FIGURE,
            "%(field)s must be a whole number from %(low)s to %(high)s.",
            {"field": field, "low": low, "high": high},
        )
    return value


def _known_path(rules: GridRules, item: dict) -> str:
    zone_a, zone_b = item.get("zone_a"), item.get("zone_b")
    if not is_identifier(zone_a) or not is_identifier(zone_b) or zone_a == zone_b:
        raise LedgerError(UNKNOWN_PATH, "zone_a and zone_b must be two different region ids.")
    pid = "{}:{}".format(*sorted((zone_a, zone_b)))
    if pid not in rules.capacity_mw:
        raise LedgerError(
            UNKNOWN_PATH,
            "There is no transmission path between %(zone_a)s and %(zone_b)s. Paths: %(paths)s.",
            {"zone_a": zone_a, "zone_b": zone_b, "paths": ", ".join(sorted(rules.capacity_mw))},
        )
    return pid


def check_report_payload(payload: dict, params: dict) -> None:
    """A grid_report: a time, one entry per reported region, optional path flows."""
    rules = grid_rules_of(params)
    require_fields(payload, REPORT_FIELDS, {"time_ms", "regions"})
    _whole(payload["time_ms"], "time_ms", 1, 2**53 - 1)
    regions = payload["regions"]
    if not isinstance(regions, list) or not 1 <= len(regions) <= len(rules.regions):
        raise LedgerError(
            errors.BAD_FIELD,
            "regions must be a list of 1 to %(max)s region reports.",
            {"max": len(rules.regions)},
        )
    seen = set()
    for item in regions:
        if not isinstance(item, dict):
            raise LedgerError(errors.BAD_FIELD, "Each region report must be an object.")
        require_fields(item, REGION_FIELDS, REGION_FIELDS)
        region = item["region"]
        if not is_identifier(region) or region not in rules.regions:
            raise LedgerError(
                UNKNOWN_REGION, "region must be one of: %(regions)s.", {"regions": ", ".join(rules.regions)}
            )
        if region in seen:
            raise LedgerError(errors.BAD_FIELD, "Region %(region)s is reported twice.", {"region": region})
        seen.add(region)
        for field, (low, high) in FIGURE_RANGES.items():
            _whole(item[field], f"{region} {field}", low, high)
    paths = payload.get("paths", [])
    if not isinstance(paths, list) or len(paths) > len(rules.capacity_mw):
        raise LedgerError(
            errors.BAD_FIELD,
            "paths must be a list of at most %(max)s flows.",
            {"max": len(rules.capacity_mw)},
        )
    seen = set()
    for item in paths:
        if not isinstance(item, dict):
            raise LedgerError(errors.BAD_FIELD, "Each path flow must be an object.")
        require_fields(item, PATH_FIELDS, PATH_FIELDS)
        pid = _known_path(rules, item)
        if pid in seen:
            raise LedgerError(errors.BAD_FIELD, "Path %(path)s is reported twice.", {"path": pid})
        seen.add(pid)
        _whole(item["flow_kw"], f"{pid} flow_kw", -MAX_FLOW_KW, MAX_FLOW_KW)


def check_limit_payload(payload: dict, params: dict) -> None:
    """A grid_path_limit: a path, the slots it covers, congested or a lower capacity."""
    rules = grid_rules_of(params)
    require_fields(payload, LIMIT_FIELDS, {"zone_a", "zone_b", "from_slot", "congested"})
    pid = _known_path(rules, payload)
    for field in ("from_slot", "until_slot"):
        if field not in payload:
            continue
        slot = payload[field]
        if not is_int(slot) or slot < 0 or slot % rules.slot_ms or (field == "from_slot" and not slot):
            raise LedgerError(
                BAD_SLOT,
                "%(field)s must be a slot start in Unix ms, a multiple of %(slot_ms)s.",
                {"field": field, "slot_ms": rules.slot_ms},
            )
    until = payload.get("until_slot", 0)
    if until and until <= payload["from_slot"]:
        raise LedgerError(BAD_SLOT, "until_slot must be after from_slot (or 0 for no end).")
    require_bool(payload["congested"], "congested")
    if "capacity_mw" in payload:
        _whole(payload["capacity_mw"], "capacity_mw", 0, rules.capacity_mw[pid])
    require_text(payload.get("reason", ""), "reason", REASON_MAX)
