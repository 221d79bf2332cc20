"""Meter kinds: meter_register and meter_revoke (by a grid authority), meter_reading (by the meter).

Who registers: the distribution utility of the meter's region (``regions[].utility``
in genesis: MEA in Bangkok, PEA elsewhere), or the national grid operator
(``grid_operator``, EGAT), which runs the transmission grid every meter hangs
off. Each must be an authority validator; they are told apart by the name of
their Validator record.

A reading is signed by the meter's own key (the meter is the sender; registration
creates its account, which holds a nonce and never tokens). Its window lies in
one delivery slot, after the meter's previous window, not in the future, and no
direction carries more than the rated power over the window. Renewable export
mints the owner that many Wh of sellable energy and ``reward_per_kwh`` units per
kWh (see ``mint_units``).
"""

from dataclasses import replace

from chain.ledger import errors
from chain.ledger.errors import LedgerError
from chain.ledger.fields import is_identifier
from chain.ledger.keys import is_address
from chain.ledger.kinds import BlockContext, TxKind
from chain.ledger.state import Account, State, Validator
from chain.ledger.tx import Transaction, is_int, require_fields
from chain.ledger.validators import is_authority

from .records import METER_KINDS, MIXED_SOURCE, Meter, SlotEnergy

WH_PER_KWH = 1000
MS_PER_HOUR = 3_600_000
MS_PER_MINUTE = 60_000
#: How far a window may end after the block's timestamp: meter clocks drift a little.
DEFAULT_CLOCK_ALLOWANCE_MS = 10_000
#: Above any real meter (1 GW), so products stay far inside JSON's safe integers.
MAX_RATED_CAPACITY_W = 1_000_000_000
MAX_READING_WH = 10**12

# Error codes, importable by views, the bridge and tests.
UNKNOWN_METER = "unknown_meter"
METER_REVOKED = "meter_revoked"
METER_EXISTS = "meter_exists"
METER_KEY_IN_USE = "meter_key_in_use"
UNKNOWN_OWNER = "unknown_owner"
UNKNOWN_REGION = "unknown_region"
UNKNOWN_METER_KIND = "unknown_meter_kind"
NOT_AUTHORITY = "not_grid_authority"
BAD_WINDOW = "bad_window"
WINDOW_IN_FUTURE = "window_in_future"
WINDOW_OVERLAP = "window_overlap"
WINDOW_REPLAYED = "window_replayed"
OVER_CAPACITY = "reading_over_capacity"


def slot_ms_of(params: dict) -> int:
    return params["slot_minutes"] * MS_PER_MINUTE


def region_utility(params: dict, region: str) -> str | None:
    return next((r.get("utility") for r in params["regions"] if r["id"] == region), None)


def max_energy_wh(rated_capacity_w: int, window_ms: int) -> int:
    """The most energy a meter of this rating can pass in the window, in Wh, rounded up."""
    return -(-rated_capacity_w * window_ms // MS_PER_HOUR)


def mint_units(export_wh: int, reward_per_kwh: int, carry: int) -> tuple[int, int]:
    """Units minted for ``export_wh`` and the new carry, in 1/1000 unit.

    export_wh * reward_per_kwh / 1000 is rarely whole; the fraction is carried to
    the meter's next reading instead of being lost, so over any run of readings
    the owner gets floor(total_export_wh * reward / 1000) units (at a constant reward).
    """
    total = carry + export_wh * reward_per_kwh
    return total // WH_PER_KWH, total % WH_PER_KWH


# --- stateless checks ------------------------------------------------------------


def _require_meter_id(payload: dict) -> None:
    if not is_address(payload.get("meter")):
        raise LedgerError(errors.BAD_ADDRESS, "meter must be the meter's public key: 64 lowercase hex.")


def check_register_payload(payload: dict, params: dict) -> None:
    require_fields(
        payload,
        {"meter", "owner", "region", "kind", "rated_capacity_w"},
        {"meter", "owner", "region", "kind", "rated_capacity_w"},
    )
    _require_meter_id(payload)
    if not is_address(payload["owner"]):
        raise LedgerError(errors.BAD_ADDRESS, "owner must be an account address: 64 lowercase hex.")
    if payload["owner"] == payload["meter"]:
        raise LedgerError(errors.BAD_FIELD, "A meter cannot own itself: owner must be another account.")
    if not is_identifier(payload["region"]) or region_utility(params, payload["region"]) is None:
        regions = ", ".join(r["id"] for r in params["regions"])
        raise LedgerError(UNKNOWN_REGION, "region must be one of: %(regions)s.", {"regions": regions})
    if payload["kind"] not in METER_KINDS:
        raise LedgerError(
            UNKNOWN_METER_KIND, "kind must be one of: %(kinds)s.", {"kinds": ", ".join(METER_KINDS)}
        )
    capacity = payload["rated_capacity_w"]
    if not is_int(capacity) or not 0 < capacity <= MAX_RATED_CAPACITY_W:
        raise LedgerError(
            errors.BAD_AMOUNT,
            "rated_capacity_w must be a whole number of W from 1 to %(max)s.",
            {"max": MAX_RATED_CAPACITY_W},
        )


def check_revoke_payload(payload: dict, params: dict) -> None:
    require_fields(payload, {"meter"}, {"meter"})
    _require_meter_id(payload)


READING_FIELDS = {"window_start_ms", "window_end_ms", "import_wh", "export_wh"}


def check_reading_payload(payload: dict, params: dict) -> None:
    """Shape, and a window inside one delivery slot: settlement counts energy per slot."""
    require_fields(payload, READING_FIELDS, READING_FIELDS)
    start, end = payload["window_start_ms"], payload["window_end_ms"]
    if not is_int(start) or not is_int(end) or start < 0 or end <= start:
        raise LedgerError(BAD_WINDOW, "window_start_ms and window_end_ms must be Unix ms, start before end.")
    slot = slot_ms_of(params)
    if start // slot != (end - 1) // slot:
        raise LedgerError(
            BAD_WINDOW,
            "The window must lie inside one delivery slot (%(minutes)s minutes).",
            {"minutes": params["slot_minutes"]},
        )
    for field in ("import_wh", "export_wh"):
        value = payload[field]
        if not is_int(value) or not 0 <= value <= MAX_READING_WH:
            raise LedgerError(
                errors.BAD_AMOUNT, "%(field)s must be a whole number of Wh, zero or more.", {"field": field}
            )


# --- state transitions -----------------------------------------------------------


def _require_authority(state: State, ctx: BlockContext, sender: str, region: str) -> None:
    validator = state.get(Validator.table, sender)
    utility = region_utility(ctx.params, region)
    allowed = is_authority(validator) and validator.name == utility
    if not (allowed or (sender == ctx.params["grid_operator"] and validator is not None)):
        raise LedgerError(
            NOT_AUTHORITY,
            "Only %(utility)s (the utility of %(region)s) or the grid operator may register or revoke "
            "meters there.",
            {"utility": utility, "region": region},
        )


def _apply_register(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload = tx.payload
    _require_authority(state, ctx, tx.sender, payload["region"])
    meter_id = payload["meter"]
    if state.get(Meter.table, meter_id) is not None:
        raise LedgerError(METER_EXISTS, "This meter key is already registered (a revoked key stays retired).")
    if state.get(Account.table, meter_id) is not None:
        raise LedgerError(
            METER_KEY_IN_USE, "This key already has an account: a meter needs a key of its own."
        )
    if state.get(Account.table, payload["owner"]) is None:
        raise LedgerError(UNKNOWN_OWNER, "The owner has no account on this chain.")
    meter = Meter(
        meter_id=meter_id,
        owner=payload["owner"],
        region=payload["region"],
        kind=payload["kind"],
        rated_capacity_w=payload["rated_capacity_w"],
        registered_by=tx.sender,
        registered_height=ctx.height,
        revoked_height=0,
        last_window_start_ms=0,
        last_window_end_ms=0,
        readings=0,
        import_wh_total=0,
        export_wh_total=0,
        minted_wh_total=0,
        minted_units_total=0,
        reward_carry=0,
    )
    state.put(meter)
    state.put(Account(address=meter_id))  # the meter's nonce lives here; admission knows it
    ctx.emit("meter_registered", meter_id=meter_id, owner=meter.owner, region=meter.region, kind=meter.kind)


def _apply_revoke(state: State, tx: Transaction, ctx: BlockContext) -> None:
    meter = state.get(Meter.table, tx.payload["meter"])
    if meter is None:
        raise LedgerError(UNKNOWN_METER, "There is no registered meter with this key.")
    _require_authority(state, ctx, tx.sender, meter.region)
    if meter.revoked_height:
        raise LedgerError(
            METER_REVOKED,
            "The meter was already revoked at height %(height)s.",
            {"height": meter.revoked_height},
        )
    state.put(replace(meter, revoked_height=ctx.height))
    ctx.emit("meter_revoked", meter_id=meter.meter_id, owner=meter.owner)


def _apply_reading(state: State, tx: Transaction, ctx: BlockContext) -> None:
    payload = tx.payload
    meter = state.get(Meter.table, tx.sender)
    if meter is None:
        raise LedgerError(UNKNOWN_METER, "The sender is not a registered meter.")
    if meter.revoked_height:
        raise LedgerError(
            METER_REVOKED, "The meter was revoked at height %(height)s.", {"height": meter.revoked_height}
        )
    start, end = payload["window_start_ms"], payload["window_end_ms"]
    allowance = ctx.params.get("meter_clock_allowance_ms", DEFAULT_CLOCK_ALLOWANCE_MS)
    if end > ctx.timestamp_ms + allowance:
        raise LedgerError(
            WINDOW_IN_FUTURE,
            "The window ends at %(end)s, after the block's time %(time)s.",
            {"end": end, "time": ctx.timestamp_ms},
        )
    if start == meter.last_window_start_ms and end == meter.last_window_end_ms:
        raise LedgerError(WINDOW_REPLAYED, "This window was already reported.")
    if start < meter.last_window_end_ms:
        raise LedgerError(
            WINDOW_OVERLAP,
            "The window overlaps an earlier reading: the meter has reported up to %(end)s.",
            {"end": meter.last_window_end_ms},
        )
    import_wh, export_wh = payload["import_wh"], payload["export_wh"]
    limit = max_energy_wh(meter.rated_capacity_w, end - start)
    if import_wh > limit or export_wh > limit:
        raise LedgerError(
            OVER_CAPACITY,
            "A %(rated)s W meter passes at most %(limit)s Wh in %(ms)s ms; "
            "the reading says import %(import_wh)s Wh, export %(export_wh)s Wh.",
            {
                "rated": meter.rated_capacity_w,
                "limit": limit,
                "ms": end - start,
                "import_wh": import_wh,
                "export_wh": export_wh,
            },
        )

    minted_wh = export_wh if meter.renewable else 0
    minted_units, carry = (0, meter.reward_carry)
    if minted_wh:
        minted_units, carry = mint_units(minted_wh, ctx.params["reward_per_kwh"], meter.reward_carry)
    state.put(meter.with_reading(start, end, import_wh, export_wh, minted_wh, minted_units, carry))
    slot = start // slot_ms_of(ctx.params) * slot_ms_of(ctx.params)
    slot_id = SlotEnergy.id_of(slot, meter.owner)
    energy = state.get(SlotEnergy.table, slot_id) or SlotEnergy(slot_id, meter.owner, slot, 0, 0, 0)
    energy = replace(
        energy,
        import_wh=energy.import_wh + import_wh,
        export_wh=energy.export_wh + export_wh,
        renewable_export_wh=energy.renewable_export_wh + minted_wh,
    )
    if minted_wh:
        # Renewable export waits for its certificates until its slot settles (again, when
        # a reading arrives after that: the late Wh are certified to the owner).
        source = meter.kind if energy.renewable_source in ("", meter.kind) else MIXED_SOURCE
        energy = replace(
            energy, renewable_source=source, zone=energy.zone or meter.region, uncertified_slot_ms=slot
        )
    state.put(energy)
    if minted_wh:
        owner = state.account(meter.owner)
        state.put(replace(owner, energy_wh=owner.energy_wh + minted_wh, balance=owner.balance + minted_units))
        # Supply grows only here: the block's energy metadata carries it for the chain head.
        ctx.energy["minted_wh"] = ctx.energy.get("minted_wh", 0) + minted_wh
        ctx.energy["minted_units"] = ctx.energy.get("minted_units", 0) + minted_units
    ctx.emit(
        "meter_reading",
        meter_id=meter.meter_id,
        owner=meter.owner,
        window_end_ms=end,
        export_wh=export_wh,
        import_wh=import_wh,
        minted_wh=minted_wh,
        minted_units=minted_units,
        parties=[meter.owner],
    )


def _register_prefetch(tx: Transaction) -> dict:
    return {
        Account.table: [tx.sender, tx.payload["meter"], tx.payload["owner"]],
        Validator.table: [tx.sender],
        Meter.table: [tx.payload["meter"]],
    }


def _reading_prefetch(tx: Transaction) -> dict:
    return {Account.table: [tx.sender], Meter.table: [tx.sender]}


METER_REGISTER = TxKind(
    name="meter_register",
    check_payload=check_register_payload,
    prefetch=_register_prefetch,
    apply=_apply_register,
)
METER_REVOKE = TxKind(
    name="meter_revoke",
    check_payload=check_revoke_payload,
    prefetch=lambda tx: {Validator.table: [tx.sender], Meter.table: [tx.payload["meter"]]},
    apply=_apply_revoke,
)
METER_READING = TxKind(
    name="meter_reading",
    check_payload=check_reading_payload,
    prefetch=_reading_prefetch,
    apply=_apply_reading,
)
