"""Gossip intake: a peer's batch is admitted once; what this site already holds is skipped, not refused."""

import pytest

from chain.consensus.transport import gossip_envelope
from chain.ledger.genesis import demo_key
from chain.ledger.tx import Transaction, parse_transaction
from chain.models import HeldTx, MempoolTx, ProposedBlock
from tests.chain.api.conftest import address, signed
from tests.chain.peer_client import peer_post

GOSSIP = "/peer/v1/transactions/"


def transfers(*usernames: str, nonce: int = 0) -> list[dict]:
    return [signed(u, nonce=nonce, payload={"to": address("hydro_nan"), "amount": 5}) for u in usernames]


def gossip(chain, wires: list[dict], origin: str = "EGAT"):
    hashes = [parse_transaction(w).hash for w in wires]
    envelope = gossip_envelope(demo_key(origin), chain.chain_id, wires, hashes)
    return peer_post(GOSSIP, envelope)


def test_a_batch_is_admitted_and_its_repeat_admits_nothing(chain):
    wires = transfers("factory_rayong", "wind_korat")

    first = gossip(chain, wires)
    again = gossip(chain, wires)

    assert first.json() == {"admitted": 2, "received": 2}
    assert again.json() == {"admitted": 0, "received": 2}
    assert MempoolTx.objects.count() == 2


def test_what_is_already_committed_is_skipped_and_the_rest_admitted(chain, produce):
    (old,) = transfers("factory_rayong")
    gossip(chain, [old])
    produce()
    fresh = transfers("factory_rayong", nonce=1) + transfers("wind_korat")

    answer = gossip(chain, [old, *fresh])

    assert answer.json() == {"admitted": 2, "received": 3}
    assert set(MempoolTx.objects.values_list("hash", flat=True)) == {parse_transaction(w).hash for w in fresh}


def test_a_forged_transaction_keeps_only_itself_out(chain):
    good = transfers("factory_rayong")
    (forged,) = transfers("wind_korat")
    forged = {**forged, "signature": "00" * 64}

    answer = gossip(chain, [*good, forged])

    assert answer.json() == {"admitted": 1, "received": 2}
    assert list(MempoolTx.objects.values_list("hash", flat=True)) == [parse_transaction(good[0]).hash]


@pytest.fixture
def verified(monkeypatch):
    """The hashes whose signature this process verifies, in order."""
    checked, verify = [], Transaction.signature_valid

    def counted(tx):
        checked.append(tx.hash)
        return verify(tx)

    monkeypatch.setattr(Transaction, "signature_valid", counted)
    return checked


def proposal_with(wires: list[dict], *, verdict: str, fetched: bool = False) -> None:
    """A proposal of the next height holding ``wires``'s bodies (carried, or fetched later)."""
    bodies = {"fetched_txs" if fetched else "txs": wires}
    ProposedBlock.objects.create(
        hash="ab" * 32,
        height=1,
        header={},
        tx_hashes=[parse_transaction(w).hash for w in wires],
        verdict=verdict,
        **bodies,
    )


@pytest.mark.parametrize("fetched", [False, True])
def test_gossip_of_what_a_valid_proposal_held_is_admitted_without_a_second_verify(chain, verified, fetched):
    wires = transfers("factory_rayong", "wind_korat")
    proposal_with(wires[:1], verdict="valid", fetched=fetched)

    answer = gossip(chain, wires)

    assert answer.json() == {"admitted": 2, "received": 2}
    assert verified == [parse_transaction(wires[1]).hash]


def test_a_forged_signature_under_a_verified_hash_is_verified_and_kept_out(chain, verified):
    (genuine,) = transfers("factory_rayong")
    proposal_with([genuine], verdict="valid")
    forged = {**genuine, "signature": "00" * 64}  # the hash covers what is signed, not the signature

    answer = gossip(chain, [forged])

    assert answer.json() == {"admitted": 0, "received": 1}
    assert set(verified) == {parse_transaction(forged).hash}  # again when the batch goes one by one
    assert not MempoolTx.objects.exists()


@pytest.mark.parametrize("verdict", ["", "the header does not hash to the proposed hash"])
def test_bodies_of_a_proposal_not_found_valid_are_verified_again(chain, verified, verdict):
    wires = transfers("factory_rayong")
    proposal_with(wires, verdict=verdict)

    assert gossip(chain, wires).json() == {"admitted": 1, "received": 1}
    assert verified == [parse_transaction(wires[0]).hash]


def test_a_batch_not_signed_by_an_active_validator_is_refused_whole(chain):
    answer = gossip(chain, transfers("factory_rayong"), origin="MEA")  # not active in the solo genesis

    assert answer.status_code == 403
    assert not MempoolTx.objects.exists()


def test_a_nonce_ahead_is_held_and_admitted_when_its_predecessor_is_gossiped(
    chain, django_capture_on_commit_callbacks
):
    (ahead,) = transfers("factory_rayong", nonce=1)
    (predecessor,) = transfers("factory_rayong")

    held = gossip(chain, [ahead])
    assert held.json() == {"admitted": 1, "received": 1}
    assert HeldTx.objects.get().hash == parse_transaction(ahead).hash
    assert not MempoolTx.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        gossip(chain, [predecessor])

    assert list(MempoolTx.objects.order_by("nonce").values_list("nonce", flat=True)) == [0, 1]
    assert not HeldTx.objects.exists()
