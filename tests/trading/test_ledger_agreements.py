"""Standing agreements: offered, accepted, each slot's pair placed and filled, missed, ended, completed."""

import pytest

from chain.ledger import errors
from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import SLOT, MemoryChain, address, check_invariants
from trading.ledger import agreements as a
from trading.ledger import rules as r

GENESIS = load_genesis(GENESIS_PATH)
SLOT_MS = GENESIS.params["slot_minutes"] * 60_000
GATE_MS = GENESIS.params["gate_closure_minutes"] * 60_000
#: The agreement's three slots, the first an hour after the chain's first block.
SLOTS = [SLOT, SLOT + SLOT_MS, SLOT + 2 * SLOT_MS]


@pytest.fixture
def chain():
    return MemoryChain(GENESIS, GENESIS.params)


def offer(**changes) -> dict:
    """rayong's factory offers to buy 5 kWh of somchai's solar at 3.2 every slot of SLOTS."""
    return {
        "counterparty": address("solar_somchai"),
        "side": "buy",
        "zone": "bangkok",
        "source": "solar",
        "energy_wh": 5_000,
        "price_per_kwh": 3_200_000,
        "first_slot": SLOTS[0],
        "last_slot": SLOTS[-1],
        **changes,
    }


def totals(chain: MemoryChain) -> tuple[int, int]:
    accounts = chain.store.tables["account"].values()
    return sum(x.total_tokens for x in accounts), sum(x.energy_wh + x.escrow_wh for x in accounts)


def agreement(chain: MemoryChain, agreement_id: str) -> a.Agreement:
    return chain.store.tables["agreement"][agreement_id]


def receipts(result) -> list[tuple[bool, str]]:
    return [(x.ok, x.code) for x in result.receipts]


def due_block(chain: MemoryChain, slot: int):
    """The first block at which ``slot``'s orders are due: one slot before its gate."""
    return chain.block([], timestamp_ms=slot - GATE_MS - SLOT_MS)


def accepted(chain: MemoryChain) -> str:
    tx = chain.tx("factory_rayong", "agreement_offer", offer())
    chain.block([tx])
    chain.block([chain.tx("solar_somchai", "agreement_accept", {"agreement_id": tx.hash})])
    return tx.hash


def test_each_slot_trades_the_agreed_energy_at_the_agreed_price(chain):
    supply, energy = totals(chain)
    agreement_id = accepted(chain)
    assert agreement(chain, agreement_id).status == a.ACTIVE
    for number, slot in enumerate(SLOTS, start=1):
        due_block(chain, slot)
        trades = [t for t in chain.trades() if t.delivery_slot_ms == slot]
        assert [(t.seller, t.buyer, t.energy_wh, t.price_per_kwh) for t in trades] == [
            (address("solar_somchai"), address("factory_rayong"), 5_000, 3_200_000)
        ]
        assert agreement(chain, agreement_id).slots_placed == number
    done = agreement(chain, agreement_id)
    assert (done.status, done.slots_missed, done.due_ms) == (a.COMPLETED, 0, 0)
    check_invariants(chain, supply, energy)


def test_nothing_is_placed_before_acceptance_or_before_a_slot_is_due(chain):
    tx = chain.tx("factory_rayong", "agreement_offer", offer())
    chain.block([tx])
    due_block(chain, SLOTS[0])
    assert chain.orders() == []  # only offered
    chain.block([chain.tx("solar_somchai", "agreement_accept", {"agreement_id": tx.hash})])
    assert chain.orders() == []  # accepted; the first slot is not due until one slot before its gate
    due_block(chain, SLOTS[0])
    assert {o.delivery_slot_ms for o in chain.orders()} == {SLOTS[0]}


def test_a_slot_the_buyer_cannot_pay_for_is_missed_and_the_next_goes_on(chain):
    agreement_id = accepted(chain)
    rayong = chain.account("factory_rayong")
    spend = chain.tx(
        "factory_rayong", "transfer", {"to": address("home_malee"), "amount": rayong.balance - 1}
    )
    chain.block([spend])
    due_block(chain, SLOTS[0])
    assert chain.orders() == [] and agreement(chain, agreement_id).slots_missed == 1
    assert agreement(chain, agreement_id).next_slot_ms == SLOTS[1]


def test_either_party_ends_it_and_no_more_orders_come(chain):
    agreement_id = accepted(chain)
    due_block(chain, SLOTS[0])
    result = chain.block([chain.tx("solar_somchai", "agreement_end", {"agreement_id": agreement_id})])
    assert receipts(result) == [(True, "")]
    assert agreement(chain, agreement_id).status == a.ENDED
    due_block(chain, SLOTS[1])
    assert {o.delivery_slot_ms for o in chain.orders()} == {SLOTS[0]}


def test_an_offer_is_withdrawn_by_its_offerer_or_declined_by_the_other(chain):
    first = chain.tx("factory_rayong", "agreement_offer", offer())
    second = chain.tx("factory_rayong", "agreement_offer", offer(price_per_kwh=3_300_000))
    chain.block([first, second])
    chain.block(
        [
            chain.tx("factory_rayong", "agreement_end", {"agreement_id": first.hash}),
            chain.tx("solar_somchai", "agreement_end", {"agreement_id": second.hash}),
        ]
    )
    assert agreement(chain, first.hash).status == a.WITHDRAWN
    assert agreement(chain, second.hash).status == a.DECLINED


@pytest.mark.parametrize(
    ("who", "payload", "code"),
    [
        ("solar_somchai", offer(counterparty=address("solar_somchai")), r.SELF_COUNTERPARTY),
        ("factory_rayong", offer(last_slot=SLOTS[0] - SLOT_MS), r.BAD_SLOT),
        ("factory_rayong", offer(last_slot=SLOTS[0] + 1), r.BAD_SLOT),
        ("factory_rayong", offer(last_slot=SLOTS[0] + 32 * 24 * 3_600_000), r.BAD_SLOT),
        ("factory_rayong", offer(side="both"), errors.BAD_FIELD),
        ("factory_rayong", offer(source="coal"), r.UNKNOWN_SOURCE),
        ("factory_rayong", offer(energy_wh=0), errors.BAD_AMOUNT),
        ("factory_rayong", {**offer(), "extra": 1}, errors.BAD_FIELD),
    ],
)
def test_bad_offers_are_refused_with_a_reason_and_change_nothing(chain, who, payload, code):
    result = chain.block([chain.tx(who, "agreement_offer", payload)])
    assert receipts(result) == [(False, code)]
    assert chain.store.tables.get("agreement", {}) == {}


def test_only_the_other_party_accepts_and_only_the_parties_end(chain):
    tx = chain.tx("factory_rayong", "agreement_offer", offer())
    chain.block([tx])
    result = chain.block(
        [
            chain.tx("factory_rayong", "agreement_accept", {"agreement_id": tx.hash}),
            chain.tx("home_malee", "agreement_accept", {"agreement_id": tx.hash}),
            chain.tx("home_malee", "agreement_end", {"agreement_id": tx.hash}),
            chain.tx("home_malee", "agreement_end", {"agreement_id": "ab" * 32}),
        ]
    )
    assert receipts(result) == [
        (False, errors.NOT_PERMITTED),
        (False, errors.NOT_PERMITTED),
        (False, errors.NOT_PERMITTED),
        (False, a.AGREEMENT_NOT_FOUND),
    ]
    assert agreement(chain, tx.hash).status == a.OFFERED


def test_a_call_auction_zone_takes_no_agreement():
    chain = MemoryChain(GENESIS, {**GENESIS.params, r.CALL_AUCTION_ZONES: ["bangkok"]})
    result = chain.block([chain.tx("factory_rayong", "agreement_offer", offer())])
    assert receipts(result) == [(False, r.NOT_IN_CALL)]
