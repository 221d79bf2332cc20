"""An in-memory chain for the market core: genesis in a MemoryStore, blocks run in-process."""

from dataclasses import dataclass, field

from chain.ledger.block import BlockResult, execute_block
from chain.ledger.genesis import Genesis, demo_key
from chain.ledger.keys import address_of
from chain.ledger.state import Account, MemoryStore, State
from chain.ledger.tx import Transaction, sign_transaction
from trading.ledger.records import OPEN, LineUsage, Order, Trade
from trading.ledger.rules import BUY, rules_of
from treasury.ledger.records import OPEN as CASHOUT_OPEN
from treasury.ledger.records import CashOut

#: A block time well inside the demo's horizon, and slot-aligned (15 min).
T0 = 1_800_000_000_000
HOUR_MS = 3_600_000
SLOT = T0 + HOUR_MS
TOKEN = 1_000_000


@dataclass
class MemoryChain:
    genesis: Genesis
    params: dict
    store: MemoryStore = field(init=False)
    height: int = 0
    next_nonce: dict = field(default_factory=dict)

    def __post_init__(self):
        self.store = MemoryStore.holding(self.genesis.records())

    def tx(self, who: str, kind: str, payload: dict) -> Transaction:
        key = demo_key(who)
        address = address_of(key)
        nonce = self.next_nonce.get(address, 0)
        self.next_nonce[address] = nonce + 1
        return sign_transaction(key, chain_id=self.genesis.chain_id, nonce=nonce, kind=kind, payload=payload)

    def block(self, txs: list[Transaction], timestamp_ms: int = T0) -> BlockResult:
        self.height += 1
        state = State(self.store, self.store.accumulator)
        result = execute_block(
            state,
            txs,
            chain_id=self.genesis.chain_id,
            height=self.height,
            timestamp_ms=timestamp_ms,
            params=self.params,
            strict=False,
            verify_signatures=False,
        )
        self.store.write(state)
        return result

    def account(self, who: str) -> Account:
        address = who if len(who) == 64 else address_of(demo_key(who))
        return self.store.tables["account"].get(address) or Account(address=address)

    def order(self, order_id: str) -> Order:
        return self.store.tables["order"][order_id]

    def orders(self) -> list[Order]:
        return list(self.store.tables.get("order", {}).values())

    def trades(self) -> list[Trade]:
        return sorted(self.store.tables.get("trade", {}).values(), key=lambda t: (t.height, t.seq))

    def line_usage(self) -> list[LineUsage]:
        return list(self.store.tables.get("line_usage", {}).values())

    def snapshot(self) -> tuple:
        """Everything in the state, to assert that a refused transaction changed nothing."""
        accounts = {
            k: (a.balance, a.escrow_tokens, a.energy_wh, a.escrow_wh)
            for k, a in self.store.tables["account"].items()
        }
        return accounts, dict(self.store.tables.get("order", {})), dict(self.store.tables.get("trade", {}))


def address(who: str) -> str:
    return address_of(demo_key(who))


def sell(slot=SLOT, zone="bangkok", kwh=100, price=3_500_000, source="solar", **extra) -> dict:
    return {
        "side": "sell",
        "energy_wh": kwh * 1000,
        "price_per_kwh": price,
        "zone": zone,
        "delivery_slot": slot,
        "source": source,
        **extra,
    }


def buy(slot=SLOT, zone="bangkok", kwh=50, price=4_000_000, sources="any", **extra) -> dict:
    return {
        "side": "buy",
        "energy_wh": kwh * 1000,
        "price_per_kwh": price,
        "zone": zone,
        "delivery_slot": slot,
        "sources": sources,
        **extra,
    }


def check_invariants(chain: MemoryChain, total_supply: int, total_wh: int) -> None:
    """The ledger's invariants: supply, no negatives, escrow = open obligations (orders, unsettled
    trades, cash-outs), capacity."""
    accounts = chain.store.tables["account"].values()
    assert sum(a.total_tokens for a in accounts) == total_supply
    assert sum(a.energy_wh + a.escrow_wh for a in accounts) == total_wh
    for a in accounts:
        assert min(a.balance, a.escrow_tokens, a.energy_wh, a.escrow_wh, a.staked, a.unbonding) >= 0
    rules = rules_of(chain.params)
    escrow_tokens: dict[str, int] = {}
    escrow_wh: dict[str, int] = {}
    for o in chain.orders():
        assert 0 <= o.remaining_wh <= o.energy_wh
        if o.status != OPEN:
            assert o.escrow_tokens == 0 and o.open_slot_ms == 0 and o.open_expires_ms == 0
            continue
        assert o.remaining_wh > 0 and o.open_slot_ms == o.delivery_slot_ms
        if o.side == BUY:
            escrow_tokens[o.owner] = escrow_tokens.get(o.owner, 0) + o.escrow_tokens
            assert o.escrow_tokens == -(-o.remaining_wh * (o.price_per_kwh + o.max_fee_per_kwh) // 1000)
        else:
            escrow_wh[o.owner] = escrow_wh.get(o.owner, 0) + o.remaining_wh
    # A trade waiting for settlement holds the seller's proceeds and the buyer's Wh.
    for t in chain.trades():
        if t.unsettled_slot_ms:
            escrow_tokens[t.seller] = escrow_tokens.get(t.seller, 0) + t.paid_tokens
            escrow_wh[t.buyer] = escrow_wh.get(t.buyer, 0) + t.energy_wh
    # A cash-out waiting for the issuer holds its amount.
    for c in chain.store.tables.get(CashOut.table, {}).values():
        if c.status == CASHOUT_OPEN:
            escrow_tokens[c.owner] = escrow_tokens.get(c.owner, 0) + c.amount
    for a in accounts:
        assert a.escrow_tokens == escrow_tokens.get(a.address, 0), a.address
        assert a.escrow_wh == escrow_wh.get(a.address, 0), a.address
    for usage in chain.line_usage():
        assert 0 <= usage.used_wh <= usage.capacity_wh
        path = rules.path_between(usage.zone_a, usage.zone_b)
        assert usage.capacity_wh == path.capacity_wh_per_slot
    orders = {o.order_id: o for o in chain.orders()}
    for t in chain.trades():
        b, s = orders[t.buy_order_id], orders[t.sell_order_id]
        assert s.price_per_kwh <= t.price_per_kwh <= b.price_per_kwh
        assert t.buyer != t.seller and b.accepts_source(t.source)
        assert t.delivery_slot_ms == b.delivery_slot_ms == s.delivery_slot_ms
