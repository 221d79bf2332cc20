"""Load shedding at the door (chain.api.shed): after a full mempool refused a batch, the next
batches are refused before they are read, only for GTX_INTAKE_SHED_MS; and no more than
GTX_INTAKE_IN_FLIGHT batches are in a process's hands at once."""

import asyncio
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
def test_a_batch_too_large_for_the_room_left_does_not_close_the_door(chain, submit, monkeypatch):
    """One client's oversized batch is refused, but must not shut the door on everybody."""
    assert submit(signed(SENDER)).status_code == 202
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 3)
    assert submit([signed(SENDER, nonce=n) for n in range(1, 4)]).status_code == 503  # 1 + 3 > 3
    assert not shed.shedding()
    assert submit([signed(SENDER, nonce=n) for n in range(1, 3)]).status_code == 202


@pytest.mark.django_db
def test_the_reserve_for_light_senders_does_not_close_the_door(chain, submit, monkeypatch, settings):
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 200)
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 100
    assert submit([signed(SENDER, nonce=n) for n in range(100)]).status_code == 202
    assert submit([signed("wind_korat", nonce=n) for n in range(80)]).status_code == 202
    # Past the reserve, but room is left for households: the door stays open for them.
    assert submit(signed("wind_korat", nonce=80)).status_code == 503
    assert not shed.shedding()


async def _post(door, path: str = shed.TRANSACTIONS_PATH, method: str = "POST") -> tuple[int, dict]:
    app = ApplicationCommunicator(door, {"type": "http", "method": method, "path": path, "headers": []})
    await app.send_input({"type": "http.request", "body": b"[]", "more_body": False})
    start = await app.receive_output(1)
    await app.receive_output(1)
    return start["status"], dict(start["headers"])


def _door(reached: list, release: asyncio.Event | None = None):
    async def inner(scope, receive, send):
        reached.append(scope["path"])
        if release is not None:
            await release.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return shed.IntakeDoor(inner)


@pytest.mark.anyio
async def test_while_shedding_batches_are_refused_unread_and_everything_else_passes(settings):
    settings.GTX_INTAKE_SHED_MS = 200
    reached = []
    door = _door(reached)
    shed.shed_after_full_mempool()
    status, headers = await _post(door)
    assert (status, headers[b"retry-after"], reached) == (503, b"2", [])
    assert (await _post(door, "/api/v1/status/"))[0] == 202
    assert (await _post(door, method="GET"))[0] == 202
    time.sleep(0.25)
    assert (await _post(door))[0] == 202
    assert reached == ["/api/v1/status/", shed.TRANSACTIONS_PATH, shed.TRANSACTIONS_PATH]


@pytest.mark.anyio
async def test_one_batch_past_the_in_flight_limit_is_refused_busy_and_the_door_reopens(settings):
    settings.GTX_INTAKE_IN_FLIGHT = 2
    reached, release = [], asyncio.Event()
    door = _door(reached, release)
    held = []
    for _ in range(2):  # two batches in the site's hands, not answered yet
        app = ApplicationCommunicator(
            door, {"type": "http", "method": "POST", "path": shed.TRANSACTIONS_PATH}
        )
        await app.send_input({"type": "http.request", "body": b"[]", "more_body": False})
        held.append(app)
    await asyncio.sleep(0.05)
    assert (len(reached), door.in_flight) == (2, 2)

    status, headers = await _post(door)
    assert (status, headers[b"retry-after"]) == (503, b"2") and len(reached) == 2

    release.set()
    for app in held:
        assert (await app.receive_output(1))["status"] == 202
        await app.receive_output(1)
    assert door.in_flight == 0
    assert (await _post(door))[0] == 202


@pytest.mark.django_db
def test_a_shard_no_worker_answers_is_refused_503_for_a_retry(chain, submit, monkeypatch, settings):
    """Intake over shards with no worker on the shard's queue: 503 ``intake_busy`` with Retry-After,
    not a 500, and the message says to look the hashes up before resending."""
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
    assert error["code"] == admission.INTAKE_BUSY and "look its hashes up" in error["message"]
