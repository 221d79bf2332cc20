"""The treasury on an in-memory chain: the demo genesis, the issuer (EGAT) and newcomers."""

from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import TOKEN, MemoryChain, address
from treasury.ledger.records import CashOut, Payment, TopUp

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


def topups(chain: MemoryChain) -> dict[str, TopUp]:
    return dict(chain.store.tables.get(TopUp.table, {}))


def supply(chain: MemoryChain) -> int:
    return sum(a.total_tokens for a in chain.store.tables["account"].values())


def snapshot(chain: MemoryChain) -> tuple:
    """Every balance, payment, cash-out and top-up asked on chain: what a refused transaction must
    leave as it was."""
    accounts = {
        k: (a.balance, a.escrow_tokens, a.staked, a.unbonding)
        for k, a in chain.store.tables["account"].items()
    }
    return accounts, payments(chain), cashouts(chain), topups(chain)
