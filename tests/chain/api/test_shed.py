"""Load shedding at the door (chain.api.shed): after a full mempool refused a batch, the next
batches are refused before they are read, and only for GTX_INTAKE_SHED_MS."""

import time

import pytest
from asgiref.testing import ApplicationCommunicator

from chain.api import shed
from chain.services import admission
from tests.chain.api.conftest import signed

SENDER = "factory_rayong"


@pytest.fixture(autouse=True)
def open_door(monkeypatch):
    monkeypatch.setattr(shed, "_shed_until", 0.0)


@pytest.mark.django_db
def test_a_full_mempool_starts_shedding(chain, submit, monkeypatch, settings):
    assert submit(signed(SENDER)).status_code == 202
    assert not shed.shedding()
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 1)
    assert submit(signed(SENDER, nonce=1)).status_code == 503
    assert shed.shedding()


@pytest.mark.django_db
def test_the_reserve_for_light_senders_does_not_close_the_door(chain, submit, monkeypatch, settings):
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 200)
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 100
    assert submit([signed(SENDER, nonce=n) for n in range(100)]).status_code == 202
    assert submit([signed("wind_korat", nonce=n) for n in range(80)]).status_code == 202
    # Past the reserve, but room is left for households: the door stays open for them.
    assert submit(signed("wind_korat", nonce=80)).status_code == 503
    assert not shed.shedding()


async def _post(path: str, method: str = "POST") -> tuple[int, dict, list]:
    reached = []

    async def inner(scope, receive, send):
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    app = ApplicationCommunicator(shed.ShedWhileFull(inner), scope)
    await app.send_input({"type": "http.request", "body": b"[]", "more_body": False})
    start = await app.receive_output(1)
    await app.receive_output(1)
    return start["status"], dict(start["headers"]), reached


@pytest.mark.anyio
async def test_while_shedding_batches_are_refused_unread_and_everything_else_passes(settings):
    settings.GTX_INTAKE_SHED_MS = 200
    shed.shed_after_full_mempool()
    status, headers, reached = await _post(shed.TRANSACTIONS_PATH)
    assert (status, headers[b"retry-after"], reached) == (503, b"2", [])
    assert (await _post("/api/v1/status/"))[0] == 202
    assert (await _post(shed.TRANSACTIONS_PATH, method="GET"))[0] == 202
    time.sleep(0.25)
    status, _, reached = await _post(shed.TRANSACTIONS_PATH)
    assert (status, reached) == (202, [shed.TRANSACTIONS_PATH])


@pytest.mark.django_db
def test_a_shard_no_worker_answers_is_refused_503_for_a_retry(chain, submit, monkeypatch, settings):
    """Intake over shards with no worker on the shard's queue: 503 ``intake_busy`` with Retry-After,
    not a 500, and the message says the batch may still land."""
    import uuid

    from celery import current_app

    from chain.services import scaling
    from chain.sharding import shard_queue

    base = f"gtx-test-{uuid.uuid4().hex[:8]}"
    settings.GTX_SHARDING = "load"
    monkeypatch.setattr(scaling, "SHARD_ANSWER_TIMEOUT_S", 0.3)
    monkeypatch.setattr(scaling, "_queue_base", lambda: base)
    try:
        response = submit(signed(SENDER))
    finally:
        with current_app.connection_for_write() as conn:
            conn.default_channel.client.delete(shard_queue(base, 0))  # the queue this test made
    assert response.status_code == 503 and response["Retry-After"] == "2"
    error = response.json()["error"]
    assert error["code"] == admission.INTAKE_BUSY and "may still be admitted" in error["message"]
