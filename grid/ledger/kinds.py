"""Grid kinds: grid_report (authorities) and grid_path_limit (the grid operator).

A report updates each reported region's latest figures and history rings and
each reported path's flow; when some region's frequency is out of the normal
band, cross-zone fills pause for the next open slots until every region is
back in band. A path limit marks a path congested or lowers its capacity for
future delivery slots. The market's matcher reads both through
``grid_capacity_limit`` (registered with trading.ledger.matching), so a block
that a proposer filled across a congested path does not replay the same on any
other site: validation is re-application.
"""

from chain.ledger.errors import LedgerError
from chain.ledger.kinds import BlockContext, TxKind
from chain.ledger.state import State, Validator
from chain.ledger.tx import Transaction
from chain.ledger.validators import is_authority
from trading.ledger.matching import refresh_free_capacity
from trading.ledger.rules import MarketRules, rules_of

from . import rules as g
from .records import (
    FREQUENCY_ALARM,
    GridAlarm,
    GridSample,
    PathLimit,
    PathStatus,
    RegionStatus,
    path_id,
)


def _require_authority(state: State, sender: str) -> Validator:
    validator = state.get(Validator.table, sender)
    if not is_authority(validator):
        raise LedgerError(
            g.NOT_AUTHORITY,
            "Only an authority (EGAT, MEA, PEA or the ERC), not jailed, may sign grid reports.",
        )
    return validator


def _sample(previous: GridSample | None, status: RegionStatus, resolution_s: int) -> GridSample:
    bucket_ms = status.time_ms // (resolution_s * 1000) * resolution_s * 1000
    low = high = status.frequency_mhz
    if previous is not None and previous.bucket_ms == bucket_ms:
        low = min(low, previous.frequency_min_mhz)
        high = max(high, previous.frequency_max_mhz)
    return GridSample(
        sample_id=GridSample.id_of(status.region, resolution_s, bucket_ms),
        region=status.region,
        resolution_s=resolution_s,
        bucket_ms=bucket_ms,
        time_ms=status.time_ms,
        frequency_mhz=status.frequency_mhz,
        frequency_min_mhz=low,
        frequency_max_mhz=high,
        voltage_permille=status.voltage_permille,
        load_kw=status.load_kw,
        generation_kw=status.generation_kw,
        renewable_ppm=status.renewable_ppm,
        carbon_g_per_kwh=status.carbon_g_per_kwh,
    )


def _apply_report(state: State, tx: Transaction, ctx: BlockContext) -> None:
    rules = g.grid_rules_of(ctx.params)
    _require_authority(state, tx.sender)
    time_ms = tx.payload["time_ms"]
    if time_ms > ctx.timestamp_ms + rules.report_max_ahead_ms:
        raise LedgerError(
            g.REPORT_IN_FUTURE,
            "time_ms is %(ahead)s ms after the block's time; at most %(max)s ms of clock skew is allowed.",
            {"ahead": time_ms - ctx.timestamp_ms, "max": rules.report_max_ahead_ms},
        )
    if time_ms < ctx.timestamp_ms - rules.report_max_age_ms:
        raise LedgerError(
            g.REPORT_TOO_OLD,
            "time_ms is more than %(max)s ms before the block's time.",
            {"max": rules.report_max_age_ms},
        )
    statuses = []
    for item in tx.payload["regions"]:
        latest = state.get(RegionStatus.table, item["region"])
        if latest is not None and time_ms <= latest.time_ms:
            raise LedgerError(
                g.STALE_REPORT,
                "%(region)s already has a report for %(time)s; a report must be newer.",
                {"region": item["region"], "time": latest.time_ms},
            )
        statuses.append(
            RegionStatus(
                region=item["region"],
                time_ms=time_ms,
                height=ctx.height,
                reporter=tx.sender,
                **{f: item[f] for f in g.FIGURE_RANGES},
            )
        )
    flows = []
    for item in tx.payload.get("paths", []):
        a, b = sorted((item["zone_a"], item["zone_b"]))
        flow = item["flow_kw"] if a == item["zone_a"] else -item["flow_kw"]
        flows.append(PathStatus(path_id(a, b), a, b, time_ms, ctx.height, flow))

    # Checked: from here on nothing fails.
    for status in statuses:
        state.put(status)
        for resolution_s in (1, 60):
            bucket_ms = time_ms // (resolution_s * 1000) * resolution_s * 1000
            previous = state.get(GridSample.table, GridSample.id_of(status.region, resolution_s, bucket_ms))
            state.put(_sample(previous, status, resolution_s))
    for flow in flows:
        state.put(flow)
    ctx.emit(
        "grid_report",
        time_ms=time_ms,
        reporter=tx.sender,
        regions=[{"region": s.region, **{f: getattr(s, f) for f in g.FIGURE_RANGES}} for s in statuses],
        paths=[{"path_id": f.path_id, "flow_kw": f.flow_kw} for f in flows],
    )
    _update_alarm(state, ctx, rules, {s.region: s for s in statuses})


def _update_alarm(state: State, ctx: BlockContext, rules: g.GridRules, reported: dict) -> None:
    """Raise, extend or clear the frequency alarm from every region's latest frequency."""
    worst = None
    for region in rules.regions:
        status = reported.get(region) or state.get(RegionStatus.table, region)
        if status is None or rules.in_band(status.frequency_mhz):
            continue
        off = abs(status.frequency_mhz - rules.nominal_frequency_mhz)
        if worst is None or off > abs(worst.frequency_mhz - rules.nominal_frequency_mhz):
            worst = status
    alarm = state.get(GridAlarm.table, FREQUENCY_ALARM)
    was_active = alarm is not None and alarm.active
    if worst is None:
        if was_active:
            state.put(GridAlarm(FREQUENCY_ALARM, False, "", 0, alarm.since_ms, 0, ctx.height))
            ctx.emit("grid_alarm", active=False, region="", frequency_mhz=0, paused_until_slot_ms=0)
            refresh_free_capacity(state, ctx, rules_of(ctx.params))
        return
    until = rules.first_open_slot_ms(ctx.timestamp_ms) + rules.frequency_pause_slots * rules.slot_ms
    if was_active:
        until = max(until, alarm.paused_until_slot_ms)
    since = alarm.since_ms if was_active else worst.time_ms
    state.put(GridAlarm(FREQUENCY_ALARM, True, worst.region, worst.frequency_mhz, since, until, ctx.height))
    if not was_active or until != alarm.paused_until_slot_ms:
        ctx.emit(
            "grid_alarm",
            active=True,
            region=worst.region,
            frequency_mhz=worst.frequency_mhz,
            paused_until_slot_ms=until,
        )
        refresh_free_capacity(state, ctx, rules_of(ctx.params))


def _apply_limit(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload = tx.payload
    if tx.sender != ctx.params["grid_operator"]:
        raise LedgerError(g.NOT_GRID_OPERATOR, "Only the grid operator (EGAT) may limit a transmission path.")
    rules = g.grid_rules_of(ctx.params)
    first_open = rules.first_open_slot_ms(ctx.timestamp_ms)
    if payload["from_slot"] < first_open:
        raise LedgerError(
            g.SLOT_NOT_FUTURE,
            "from_slot must be a slot still taking orders: %(slot)s or later.",
            {"slot": first_open},
        )
    a, b = sorted((payload["zone_a"], payload["zone_b"]))
    pid = path_id(a, b)
    limit = PathLimit(
        path_id=pid,
        zone_a=a,
        zone_b=b,
        congested=payload["congested"],
        capacity_mw=payload.get("capacity_mw", rules.capacity_mw[pid]),
        from_slot_ms=payload["from_slot"],
        until_slot_ms=payload.get("until_slot", 0),
        height=ctx.height,
        reason=payload.get("reason", ""),
    )
    state.put(limit)
    ctx.emit(
        "grid_path_limit",
        path_id=pid,
        congested=limit.congested,
        capacity_mw=limit.capacity_mw,
        from_slot_ms=limit.from_slot_ms,
        until_slot_ms=limit.until_slot_ms,
        reason=limit.reason,
    )
    refresh_free_capacity(state, ctx, rules_of(ctx.params))


def grid_capacity_limit(
    state: State, market: MarketRules, slot_ms: int, path_key: tuple[str, str], capacity_wh: int
) -> int:
    """The capacity (Wh) cross-zone fills may use on ``path_key`` in ``slot_ms``, after grid limits."""
    alarm = state.get(GridAlarm.table, FREQUENCY_ALARM)
    if alarm is not None and alarm.active and slot_ms < alarm.paused_until_slot_ms:
        return 0
    # One read of every path's limit, not one per path (the store answers misses too).
    state.prefetch(PathLimit.table, _path_ids(market))
    limit = state.get(PathLimit.table, path_id(*path_key))
    if limit is None or not limit.covers(slot_ms):
        return capacity_wh
    if limit.congested:
        return 0
    return min(capacity_wh, limit.capacity_mw * 1_000_000 * market.slot_ms // 3_600_000)


#: The last market rules seen and their path ids (the rules object lives as long as its params).
_path_ids_of: list = [None, []]


def _path_ids(market: MarketRules) -> list[str]:
    if _path_ids_of[0] is not market:
        _path_ids_of[:] = [market, [path_id(*key) for key in market.paths]]
    return _path_ids_of[1]


def _report_prefetch(tx: Transaction) -> dict:
    payload = tx.payload
    return {
        Validator.table: [tx.sender],
        RegionStatus.table: [item["region"] for item in payload["regions"]],
        GridAlarm.table: [FREQUENCY_ALARM],
    }


GRID_REPORT = TxKind(
    name="grid_report",
    check_payload=g.check_report_payload,
    prefetch=_report_prefetch,
    apply=_apply_report,
)
GRID_PATH_LIMIT = TxKind(
    name="grid_path_limit",
    check_payload=g.check_limit_payload,
    prefetch=lambda tx: {PathLimit.table: [path_id(tx.payload["zone_a"], tx.payload["zone_b"])]},
    apply=_apply_limit,
)
