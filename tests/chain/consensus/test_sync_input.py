"""Blocks fetched while catching up are input like any other: a malformed one is refused with
LedgerError, never a crash of the sync task, and a certificate is stored only as consensus makes it."""

import copy

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.ledger.block import HEADER_FIELDS, BlockHeader, header_from_wire
from chain.ledger.errors import LedgerError
from chain.models import ChainHead
from chain.services.sync import block_apply, blocks_for_peer
from tests.chain.consensus.test_proposals import admitted


class _Undo(Exception):
    pass


@pytest.fixture
def block_one(chain, produce):
    """Block 1 as a peer serves it, with this site left at height 0 to apply it."""
    admitted("factory_rayong")
    try:
        with transaction.atomic():
            produce()
            [body] = blocks_for_peer(1, 1)
            raise _Undo
    except _Undo:
        pass
    assert ChainHead.objects.get().height == 0
    return body


def test_a_served_block_applies(block_one):
    assert block_apply(copy.deepcopy(block_one)).height == 1


@pytest.mark.parametrize(
    "spoil",
    [
        lambda b: b.update(header={**b["header"], "height": "1"}),
        lambda b: b.update(header={**b["header"], "timestamp_ms": 1.5}),
        lambda b: b.update(header={**b["header"], "difficulty": 300}),
        lambda b: b.update(header={**b["header"], "round": True}),
        lambda b: b.update(header={**b["header"], "proposer": b["header"]["proposer"] + "\n"}),
        lambda b: b.update(header={**b["header"], "energy": {"traded_wh": -1}}),
        lambda b: b.update(header={**b["header"], "extra": 1}),
        lambda b: b.update(header=[]),
        lambda b: b.update(txs={"a": 1}),
        lambda b: b.update(txs=5),
        lambda b: b.pop("header"),
        lambda b: b.update(commit_certificate=[{**b["commit_certificate"][0], "note": "x" * 10_000}]),
        lambda b: b.update(commit_certificate=b["commit_certificate"] * 2),
        lambda b: b.update(commit_certificate=[{**b["commit_certificate"][0], "validator": "ab" * 32}]),
        lambda b: b.update(commit_certificate="yes"),
    ],
)
def test_a_malformed_block_is_refused_and_changes_nothing(block_one, spoil):
    body = copy.deepcopy(block_one)
    spoil(body)
    with pytest.raises(LedgerError):
        block_apply(body)
    assert ChainHead.objects.get().height == 0


def test_a_body_that_is_not_an_object_is_refused(chain):
    for body in ("block", 5, None, ["header"]):
        with pytest.raises(LedgerError):
            block_apply(body)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=70),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(HEADER_FIELDS), _json, min_size=len(HEADER_FIELDS) - 1))
def test_header_from_wire_gives_a_header_or_a_ledger_error(wire):
    try:
        header = header_from_wire(wire)
    except LedgerError:
        return
    assert isinstance(header, BlockHeader)
    header.hash  # noqa: B018 - a header that parsed always hashes
