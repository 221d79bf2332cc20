"""Meters on the in-memory chain of tests/trading/harness.py: registration and readings."""

from chain.ledger.genesis import load_genesis
from tests.conftest import GENESIS_PATH
from tests.trading.harness import SLOT, T0, MemoryChain, address

GENESIS = load_genesis(GENESIS_PATH)
SLOT_MS = 15 * 60_000
#: The block time at which a reading of the first quarter hour of SLOT is due.
AFTER_SLOT = SLOT + SLOT_MS + 1_000


def meter_name(owner: str, n: int = 0) -> str:
    """Meters sign with demo keys too: ``MemoryChain.tx`` signs with demo_key(name)."""
    return f"meter/{owner}/{n}"


def register_payload(owner: str, *, n=0, region="bangkok", kind="solar", rated_capacity_w=200_000) -> dict:
    return {
        "meter": address(meter_name(owner, n)),
        "owner": address(owner),
        "region": region,
        "kind": kind,
        "rated_capacity_w": rated_capacity_w,
    }


def register(chain: MemoryChain, owner: str, *, authority="MEA", at=T0, **fields) -> str:
    """Register a meter for ``owner`` (signed by ``authority``); returns the meter's key name."""
    result = chain.block([chain.tx(authority, "meter_register", register_payload(owner, **fields))], at)
    assert result.receipts[0].ok, result.receipts[0]
    return meter_name(owner, fields.get("n", 0))


def reading(start=SLOT, end=SLOT + SLOT_MS, import_wh=0, export_wh=0) -> dict:
    return {"window_start_ms": start, "window_end_ms": end, "import_wh": import_wh, "export_wh": export_wh}


def report(chain: MemoryChain, meter: str, at=AFTER_SLOT, **fields):
    """One reading in its own block; returns the receipt."""
    result = chain.block([chain.tx(meter, "meter_reading", reading(**fields))], at)
    return result.receipts[0] if result.receipts else result.dropped[0][1]


def new_chain(params: dict | None = None) -> MemoryChain:
    return MemoryChain(GENESIS, params or GENESIS.params)


__all__ = ["AFTER_SLOT", "GENESIS", "SLOT", "SLOT_MS", "T0", "address", "new_chain", "register", "report"]
