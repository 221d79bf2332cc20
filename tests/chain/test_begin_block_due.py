"""When begin-block work falls due: each hook's earliest due time agrees with its range reads.

A site asks the hooks once per head for the earliest block time at which one has work
(order gate closure and expiry, agreements' next slots, settlement after the grace period,
governance's paced blocks), and compares it with the clock at every step and tick after.
"""

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from chain import clock
from chain.ledger.block import begin_block_due, begin_block_due_from
from chain.ledger.genesis import load_genesis
from chain.ledger.state import MemoryStore
from chain.models import ChainHead
from chain.services.consensus import step_needed as needed
from governance.ledger.proposals import CLOCK
from governance.ledger.records import Counter, Proposal
from meters.ledger.records import SlotEnergy
from settlement.ledger.delivery import settlement_cutoff_ms
from tests.conftest import GENESIS_PATH
from tests.trading.harness import sell
from trading import selectors
from trading.ledger.agreements import Agreement
from trading.ledger.records import Order, Trade
from trading.ledger.rules import rules_of
from trading.services import order_place

PARAMS = load_genesis(GENESIS_PATH).params
T0 = 1_700_000_000_000
#: Index values: 0 is a closed record (not in the index), others lie around T0.
times = st.one_of(st.just(0), st.integers(T0 - 3_600_000, T0 + 3_600_000))
records = st.lists(times, max_size=4)


def _store(orders, agreement_due, trade_slots, export_slots, proposal_heights, clock):
    store = MemoryStore()

    def table(name, rows):
        store.tables[name] = {str(i): SimpleNamespace(**row) for i, row in enumerate(rows)}

    table(Order.table, [{"open_slot_ms": s, "open_expires_ms": e} for s, e in orders])
    table(Agreement.table, [{"due_ms": d} for d in agreement_due])
    table(Trade.table, [{"unsettled_slot_ms": s} for s in trade_slots])
    table(SlotEnergy.table, [{"uncertified_slot_ms": s} for s in export_slots])
    table(Proposal.table, [{"open_end_height": h, "due_execute_height": 0} for h in proposal_heights])
    if clock is not None:
        store.tables[Counter.table] = {CLOCK: SimpleNamespace(value=clock)}
    return store


def _reference_due(store: MemoryStore, ts: int) -> bool:
    """Each hook's own definition, read as ranges of its indexes at block time ``ts``."""
    gate = rules_of(PARAMS).gate_closure_ms
    cutoff = settlement_cutoff_ms(ts, PARAMS)
    clock = store.tables.get(Counter.table, {}).get(CLOCK)
    return bool(
        store.scan(Order.table, "open_slot_ms", 1, ts + gate)
        or store.scan(Order.table, "open_expires_ms", 1, ts)
        or store.scan(Agreement.table, "due_ms", 1, ts)
        or (
            cutoff >= 1
            and (
                store.scan(Trade.table, "unsettled_slot_ms", 1, cutoff)
                or store.scan(SlotEnergy.table, "uncertified_slot_ms", 1, cutoff)
            )
        )
        or (
            store.scan(Proposal.table, "open_end_height", 1, 10**15)
            and (clock is None or ts >= clock.value + PARAMS["block_interval_ms"])
        )
    )


@given(
    orders=st.lists(st.tuples(times, times), max_size=4),
    agreement_due=records,
    trade_slots=records,
    export_slots=records,
    proposal_heights=st.lists(st.integers(0, 3), max_size=2),
    clock=st.one_of(st.none(), st.integers(T0 - 5_000, T0 + 5_000)),
    offsets=st.lists(st.integers(-7_200_000, 7_200_000), min_size=1, max_size=6),
)
def test_the_earliest_due_time_agrees_with_the_hooks_range_reads(
    orders, agreement_due, trade_slots, export_slots, proposal_heights, clock, offsets
):
    store = _store(orders, agreement_due, trade_slots, export_slots, proposal_heights, clock)
    due_from = begin_block_due_from(store, PARAMS)
    for ts in [T0 + o for o in offsets] + ([due_from - 1, due_from] if due_from else []):
        assert begin_block_due(store, ts, PARAMS) == _reference_due(store, ts), ts


def test_nothing_pending_is_never_due():
    store = _store([(0, 0)], [0], [0], [0], [0], None)
    assert begin_block_due_from(store, PARAMS) is None
    assert not begin_block_due(store, 10**15, PARAMS)


def _due_now() -> bool:
    head = ChainHead.objects.get()
    return needed.begin_block_due_now(head.block_hash, head.state_root, head.params)


def test_a_site_reads_the_due_time_once_per_head_and_only_compares_the_clock_after(
    users, produce, monkeypatch, django_assert_num_queries
):
    seller = users["solar_somchai"].wallet
    expires_ms = clock.now_ms() + 60_000
    order_place(
        wallet=seller, **sell(selectors.slots_open(count=2)[1], kwh=2, price=3_000_000, expires_ms=expires_ms)
    )
    produce()
    assert not _due_now(), "the order is open, its expiry still ahead"

    monkeypatch.setattr(clock, "now_ms", lambda: expires_ms + 1)
    with django_assert_num_queries(1):  # the head; the due time was read at this head already
        assert _due_now(), "the expiry passed: a block is due with no transaction waiting"

    assert produce().tx_count == 0
    assert not _due_now(), "the new head closed the order: nothing is due after it"
