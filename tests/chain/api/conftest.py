"""Helpers for the REST API tests: sign as a demo user, post JSON, snapshot the ledger."""

import json

import pytest
from django.test import Client

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Account, ChainHead, MempoolTx

SUBMIT = "/api/v1/transactions/"


def address(username: str) -> str:
    return address_of(demo_key(username))


def signed(username: str, *, nonce: int = 0, kind: str = "transfer", payload=None, chain_id=None) -> dict:
    """A wire transaction signed with ``username``'s demo key."""
    if payload is None:
        payload = {"to": address("home_malee"), "amount": 1_000_000}
    return sign_transaction(
        demo_key(username),
        chain_id=chain_id or ChainHead.objects.get().chain_id,
        nonce=nonce,
        kind=kind,
        payload=payload,
    ).to_wire()


def ledger_snapshot() -> dict:
    """Everything a refused submission must leave untouched."""
    return {
        "mempool": list(MempoolTx.objects.order_by("id").values_list("hash", flat=True)),
        "accounts": list(Account.objects.order_by("address").values()),
        "head": ChainHead.objects.values("height", "state_root").get(),
    }


@pytest.fixture
def api():
    return Client()


@pytest.fixture
def submit(api):
    """POST a body (encoded as JSON unless it is already bytes/str) to the intake endpoint."""

    def post(body, **extra):
        raw = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return api.post(SUBMIT, data=raw, content_type="application/json", **extra)

    return post


def assert_refused(response, code: str, before: dict, *, http_status: int = 400) -> dict:
    """The response is a JSON error with ``code``, and the ledger is exactly as it was."""
    assert response.status_code == http_status, response.content
    assert response["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert ledger_snapshot() == before
    return error
