"""Adversarial suite through the real site: the API, admission, the block and its write.

Hostile transactions (tests/chain/adversarial.py), correctly signed, go to
POST /api/v1/transactions/: each is refused with a 4xx and a stable code and
the ledger is unchanged, or it is admitted, and then the next block is built,
passes the write check, writes, and every ledger invariant holds. No admitted
transaction can make a write fail: a failed write would raise here.
"""

import json
import re
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.errors import LedgerError
from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Account, Block, ChainHead, ChainTx, MempoolTx
from chain.store import DatabaseStore
from tests.chain.adversarial import VALID, hostile_transactions
from tests.chain.api.conftest import SUBMIT, ledger_snapshot
from tests.trading.harness import check_invariants

pytestmark = pytest.mark.django_db

STABLE_CODE = re.compile(r"[a-z][a-z_]{2,39}")
#: Kinds whose valid payload needs no set-up block (the core suite covers the others in depth).
KINDS = tuple(kind for kind in VALID if kind not in ("order_cancel", "governance_vote", "meter_reading"))


def signed_wire(who: str, kind: str, payload: dict) -> str:
    """Signed with the sender's next nonce; what no client could sign goes with a made-up signature."""
    key = demo_key(who)
    row = Account.objects.filter(address=address_of(key)).first()
    nonce = (row.nonce if row else 0) + MempoolTx.objects.filter(sender=address_of(key)).count()
    head = ChainHead.objects.get()
    try:
        wire = sign_transaction(
            key, chain_id=head.chain_id, nonce=nonce, kind=kind, payload=payload
        ).to_wire()
    except LedgerError:
        wire = sign_transaction(key, chain_id=head.chain_id, nonce=nonce, kind=kind, payload={}).to_wire()
        wire = {**wire, "payload": payload, "signature": "00" * 64}
    return json.dumps(wire)  # spells NaN, Infinity and lone surrogates as a client could


def ledger_invariants(genesis_wh: int) -> None:
    """Supply as the head counts it, no negative amount, escrow = open orders, unsettled trades, cash-outs."""
    store = DatabaseStore()
    tables = {
        name: store.load_all(name) for name in ("account", "order", "trade", "line_usage", "treasury_cashout")
    }
    head = ChainHead.objects.get()
    view = SimpleNamespace(
        store=SimpleNamespace(tables=tables),
        params=head.params,
        orders=lambda: list(tables["order"].values()),
        trades=lambda: sorted(tables["trade"].values(), key=lambda t: (t.height, t.seq)),
        line_usage=lambda: list(tables["line_usage"].values()),
    )
    minted_wh = sum(energy.get("minted_wh", 0) for energy in Block.objects.values_list("energy", flat=True))
    check_invariants(view, head.total_supply, genesis_wh + minted_wh)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(cases=st.lists(hostile_transactions(kinds=KINDS), min_size=10, max_size=30))
def test_hostile_transactions_are_refused_unchanged_or_their_block_writes_with_the_invariants(
    chain, genesis, client, produce, cases
):
    """Each example is a batch of hostile submissions, then one block of whatever was admitted."""
    genesis_wh = sum(a["energy_kwh"] for a in genesis.accounts) * 1000
    admitted = []
    for who, kind, payload in cases:
        before = ledger_snapshot()
        response = client.post(SUBMIT, data=signed_wire(who, kind, payload), content_type="application/json")
        assert response.status_code in (202, 400, 409, 422), response.content
        if response.status_code == 202:
            admitted += response.json()["hashes"]
            continue
        assert STABLE_CODE.fullmatch(response.json()["error"]["code"])
        assert ledger_snapshot() == before

    block = produce()  # builds, checks, writes: a failure to write raises here

    if admitted:
        assert block is not None
        assert set(ChainTx.objects.filter(block=block).values_list("hash", flat=True)) == set(admitted)
    ledger_invariants(genesis_wh)
