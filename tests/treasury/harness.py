"""The treasury on an in-memory chain: the demo genesis, the issuer (EGAT) and newcomers."""

import treasury.ledger  # noqa: F401  (registers the treasury's kinds and tables)
from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import TOKEN, MemoryChain, address
from treasury.ledger.records import OPEN, CashOut, Payment

GENESIS = load_genesis(GENESIS_PATH)
ISSUER = "EGAT"
NEWCOMERS = ("newcomer_a", "newcomer_b")
LIMIT = GENESIS.params["max_payment_units"]

__all__ = ["GENESIS", "ISSUER", "LIMIT", "NEWCOMERS", "TOKEN", "MemoryChain", "address", "new_chain"]


def new_chain() -> MemoryChain:
    return MemoryChain(GENESIS, GENESIS.params)


def payments(chain: MemoryChain) -> dict[str, Payment]:
    return dict(chain.store.tables.get(Payment.table, {}))


def cashouts(chain: MemoryChain) -> dict[str, CashOut]:
    return dict(chain.store.tables.get(CashOut.table, {}))


def supply(chain: MemoryChain) -> int:
    return sum(a.total_tokens for a in chain.store.tables["account"].values())


def snapshot(chain: MemoryChain) -> tuple:
    """Every balance, payment and cash-out: what a refused transaction must leave as it was."""
    accounts = {
        k: (a.balance, a.escrow_tokens, a.staked, a.unbonding)
        for k, a in chain.store.tables["account"].items()
    }
    return accounts, payments(chain), cashouts(chain)


def check_invariants(chain: MemoryChain) -> None:
    """No negative balance; each account's token escrow is exactly its open cash-outs."""
    escrow: dict[str, int] = {}
    for c in cashouts(chain).values():
        if c.status == OPEN:
            escrow[c.owner] = escrow.get(c.owner, 0) + c.amount
    for a in chain.store.tables["account"].values():
        assert min(a.balance, a.escrow_tokens, a.staked, a.unbonding) >= 0
        assert a.escrow_tokens == escrow.get(a.address, 0), a.address
