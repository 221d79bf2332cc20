"""Settlement after delivery: each trade of a slot is settled against the seller's meters.

At fill time (trading.ledger.matching) nothing is final: the seller's proceeds
wait in its ``escrow_tokens`` and the bought Wh in the buyer's ``escrow_wh``.
Once a slot has ended and ``settlement_grace_minutes`` have passed (the time
meters have to report), a begin-block hook settles every trade of the slot,
oldest slot first, one slot per block:

- the seller's export in the slot (the sum of its meters' readings whose window
  lies in the slot, meters.ledger SlotEnergy.export_wh) is allocated to its
  trades of the slot in fill order (height, then seq): each takes
  min(what is left, its Wh);
- for ``d`` delivered Wh of a trade of ``w`` Wh at price ``p``, the seller gets
  floor(d*p/1000) units from the held proceeds and the buyer the rest back
  (``refund_tokens``); the buyer gets ``d`` Wh and the seller its ``w - d``
  undelivered Wh back; the wheeling fee paid the grid operator for the
  capacity reserved and is not returned;
- the seller's SettlementAccount counts sold, delivered and short Wh; its
  ``reputation_ppm`` is delivered/sold over all its settled trades;
- a renewable trade credits the buyer floor(d * c / 1000) g CO2, c the carbon intensity
  the grid reported for the buyer's zone over the slot (``carbon_at_delivery``),
  and, when d > 0, issues the buyer a certificate of d Wh, at most the seller's
  renewable export of the slot (settlement.ledger.certificates);
- then every owner's renewable export of the slot not certified to a buyer is
  certified to the owner: a slot with export and no trade settles too.

Readings that arrive after their slot is settled still mint, but change no
trade's settlement; their renewable Wh are certified to the owner by a later
block. Tokens and Wh only move between accounts here: supply is unchanged.
"""

from dataclasses import dataclass
from typing import ClassVar

from chain.ledger.block import BeginBlockHook
from chain.ledger.kinds import BlockContext
from chain.ledger.state import Account, State
from grid.ledger.records import GridSample
from meters.ledger.records import SlotEnergy
from trading.ledger.records import Trade, updated
from trading.ledger.rules import RENEWABLE_SOURCES, rules_of, value_units

from . import certificates

MS_PER_MINUTE = 60_000
DEFAULT_GRACE_MINUTES = 5
PPM = 1_000_000


@dataclass(frozen=True, slots=True)
class SettlementAccount:
    """One account's delivery record: as a seller (reputation) and as a buyer (carbon credits)."""

    table: ClassVar[str] = "settlement_account"
    address: str
    sold_wh: int = 0
    delivered_wh: int = 0
    shortfall_wh: int = 0
    reputation_ppm: int = PPM
    bought_wh: int = 0
    received_wh: int = 0
    renewable_received_wh: int = 0
    carbon_g: int = 0

    @property
    def key(self) -> str:
        return self.address


def grace_ms(params: dict) -> int:
    return params.get("settlement_grace_minutes", DEFAULT_GRACE_MINUTES) * MS_PER_MINUTE


def settlement_cutoff_ms(timestamp_ms: int, params: dict) -> int:
    """The latest slot start that is due: the slot ended and the grace period passed."""
    return timestamp_ms - rules_of(params).slot_ms - grace_ms(params)


def allocate(export_wh: int, trades: list[Trade]) -> dict[str, int]:
    """Delivered Wh per trade id: ``export_wh`` over ``trades`` in fill order, first come first served."""
    left, delivered = export_wh, {}
    for trade in sorted(trades, key=lambda t: (t.height, t.seq)):
        take = min(left, trade.energy_wh)
        delivered[trade.trade_id] = take
        left -= take
    return delivered


def settle_due_trades(state: State, ctx: BlockContext) -> None:
    """Begin-block: settle every trade of the oldest due slot, then certify its export (module docstring)."""
    cutoff = settlement_cutoff_ms(ctx.timestamp_ms, ctx.params)
    if cutoff < 1:
        return
    due = state.scan(Trade.table, "unsettled_slot_ms", 1, cutoff)
    waiting = state.scan(SlotEnergy.table, "uncertified_slot_ms", 1, cutoff)
    if not due and not waiting:
        return
    slot_ms = min(r.delivery_slot_ms for r in (*due, *waiting))
    trades = sorted((t for t in due if t.delivery_slot_ms == slot_ms), key=lambda t: (t.height, t.seq))
    sellers = sorted({t.seller for t in trades})
    parties = sorted({t.seller for t in trades} | {t.buyer for t in trades})
    state.prefetch(SlotEnergy.table, [SlotEnergy.id_of(slot_ms, s) for s in sellers])
    state.prefetch(Account.table, parties)
    state.prefetch(SettlementAccount.table, parties)
    delivered: dict[str, int] = {}
    for seller in sellers:
        energy = state.get(SlotEnergy.table, SlotEnergy.id_of(slot_ms, seller))
        delivered.update(
            allocate(energy.export_wh if energy else 0, [t for t in trades if t.seller == seller])
        )
    carbon = {
        zone: carbon_at_delivery(state, ctx.params, zone, slot_ms)
        for zone in sorted({t.buyer_zone for t in trades if t.source in RENEWABLE_SOURCES})
    }
    for trade in trades:
        _settle(state, ctx, trade, delivered[trade.trade_id], carbon)
    for energy in waiting:
        if energy.delivery_slot_ms == slot_ms:
            # As the trades' certificates left it (they add to its certified_wh).
            certificates.issue_export(state, ctx, state.get(SlotEnergy.table, energy.key))


def carbon_at_delivery(state: State, params: dict, zone: str, slot_ms: int) -> int:
    """A zone's carbon intensity (g CO2/kWh) over a delivery slot: the mean of the grid's
    minute samples of the slot (grid.ledger), or the genesis figure when none is kept."""
    minutes = range(slot_ms, slot_ms + rules_of(params).slot_ms, 60_000)
    ids = [GridSample.id_of(zone, 60, minute) for minute in minutes]
    state.prefetch(GridSample.table, ids)
    samples = [state.get(GridSample.table, sample_id) for sample_id in ids]
    # A ring slot holds another minute once the ring has come round: only the slot's own count.
    found = [s.carbon_g_per_kwh for s in samples if s is not None and s.bucket_ms in minutes]
    if not found:
        return rules_of(params).carbon_g_per_kwh.get(zone, 0)
    return sum(found) // len(found)


def _settle(state: State, ctx: BlockContext, trade: Trade, delivered_wh: int, carbon: dict) -> None:
    short_wh = trade.energy_wh - delivered_wh
    pay = value_units(delivered_wh, trade.price_per_kwh)
    refund = trade.paid_tokens - pay
    renewable = trade.source in RENEWABLE_SOURCES
    carbon_g = value_units(delivered_wh, carbon.get(trade.buyer_zone, 0)) if renewable else 0

    seller = state.account(trade.seller)
    state.put(
        updated(
            seller,
            escrow_tokens=seller.escrow_tokens - trade.paid_tokens,
            balance=seller.balance + pay,
            energy_wh=seller.energy_wh + short_wh,
        )
    )
    buyer = state.account(trade.buyer)
    state.put(
        updated(
            buyer,
            balance=buyer.balance + refund,
            escrow_wh=buyer.escrow_wh - trade.energy_wh,
            energy_wh=buyer.energy_wh + delivered_wh,
        )
    )
    record = _settlement_account(state, trade.seller)
    sold, done = record.sold_wh + trade.energy_wh, record.delivered_wh + delivered_wh
    state.put(
        updated(
            record,
            sold_wh=sold,
            delivered_wh=done,
            shortfall_wh=record.shortfall_wh + short_wh,
            reputation_ppm=done * PPM // sold,
        )
    )
    record = _settlement_account(state, trade.buyer)
    state.put(
        updated(
            record,
            bought_wh=record.bought_wh + trade.energy_wh,
            received_wh=record.received_wh + delivered_wh,
            renewable_received_wh=record.renewable_received_wh + (delivered_wh if renewable else 0),
            carbon_g=record.carbon_g + carbon_g,
        )
    )
    state.put(
        updated(
            trade,
            unsettled_slot_ms=0,
            delivered_wh=delivered_wh,
            refund_tokens=refund,
            delivered_carbon_g=carbon_g,
            settled_height=ctx.height,
        )
    )
    if renewable and delivered_wh:
        certificates.issue(state, ctx, trade, delivered_wh)
    energy = ctx.energy
    energy["delivered_wh"] = energy.get("delivered_wh", 0) + delivered_wh
    ctx.emit(
        "trade_settled",
        trade_id=trade.trade_id,
        buyer=trade.buyer,
        seller=trade.seller,
        delivery_slot_ms=trade.delivery_slot_ms,
        energy_wh=trade.energy_wh,
        delivered_wh=delivered_wh,
        paid_tokens=pay,
        refund_tokens=refund,
        carbon_g=carbon_g,
        parties=sorted({trade.buyer, trade.seller}),
    )


def _settlement_account(state: State, address: str) -> SettlementAccount:
    return state.get(SettlementAccount.table, address) or SettlementAccount(address=address)


def settlement_due_from(store, params: dict) -> int | None:
    """When the first unsettled trade's or uncertified export's slot has ended and its grace passed."""
    slots = (
        store.lowest(Trade.table, "unsettled_slot_ms", 1),
        store.lowest(SlotEnergy.table, "uncertified_slot_ms", 1),
    )
    first = min((s for s in slots if s is not None), default=None)
    return None if first is None else first + rules_of(params).slot_ms + grace_ms(params)


SETTLE_DUE_TRADES = BeginBlockHook(
    "settlement.settle_due_trades", settle_due_trades, due_from=settlement_due_from
)
