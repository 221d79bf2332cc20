"""Load shedding at the door (chain.api.shed): a batch larger than the room intake last saw is
refused before it is read, until a block makes room; and no more than GTX_INTAKE_IN_FLIGHT
batches are in a process's hands at once."""

import asyncio
import json
import time

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from daphne import http_protocol
from daphne import server as daphne_server
from django.core.cache import cache
from django.test import AsyncRequestFactory
from twisted.internet.testing import StringTransport
from twisted.web import http

from chain import metrics
from chain.api import shed
from chain.api.views import TransactionSubmitView
from chain.models import MempoolTx
from chain.services import admission, scaling
from gridtokenx_site.daphne_server import HTTPFactoryWithoutTwistedLog, body_limited_request, install
from tests.chain.api.conftest import signed

SENDER = "factory_rayong"


@pytest.fixture(autouse=True)
def open_door():
    """No room noted after a block by another test's chain (nor measured in this process:
    tests/conftest.py)."""
    cache.delete(admission.ROOM_AT_COMMIT_KEY)  # this run's own key (its cache prefix)
    yield
    cache.delete(admission.ROOM_AT_COMMIT_KEY)


def _length(batch) -> int:
    return len(json.dumps(batch))


@pytest.mark.django_db
def test_a_full_mempool_shuts_the_door_to_every_batch(chain, submit, monkeypatch):
    assert submit(signed(SENDER)).status_code == 202
    assert not shed.shut_to(_length([signed(SENDER, nonce=1)]))
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 1)
    assert submit(signed(SENDER, nonce=1)).status_code == 503
    assert admission.room_seen.left == 0
    assert shed.shut_to(_length([signed(SENDER, nonce=1)]))
    assert shed.shut_to(None)  # a chunked body too: no batch fits


@pytest.mark.django_db
def test_a_batch_too_large_for_the_room_left_is_refused_at_the_door_and_a_smaller_one_passes(
    chain, submit, monkeypatch
):
    """One client's oversized batch is refused, but must not shut the door on smaller ones."""
    assert submit(signed(SENDER)).status_code == 202
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 3)
    three = [signed(SENDER, nonce=n) for n in range(1, 4)]
    assert submit(three).status_code == 503  # 1 + 3 > 3
    assert admission.room_seen.left == 2
    assert shed.shut_to(_length(three))
    two = three[:2]
    assert not shed.shut_to(_length(two))
    assert submit(two).status_code == 202
    assert shed.shut_to(_length(signed(SENDER, nonce=3)))  # and now nothing fits


@pytest.mark.django_db
def test_the_door_opens_when_a_block_makes_room(chain, submit, monkeypatch):
    """The web process does not commit blocks: the room a commit left reaches it through the cache."""
    assert submit(signed(SENDER)).status_code == 202
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 1)
    assert submit(signed(SENDER, nonce=1)).status_code == 503
    one = _length([signed(SENDER, nonce=1)])
    head = admission.intake_head()
    admission.room_after_commit(admission.IntakeHead(head.chain_id, head.height, head.params))
    assert shed.shut_to(one)  # a note at the same head says no more than intake saw
    MempoolTx.objects.all().delete()  # what the next block's commit does
    admission.room_after_commit(admission.IntakeHead(head.chain_id, head.height + 1, head.params))
    assert admission.room_after_newer_block(head.height) is not None  # the newer block's note
    assert not shed.shut_to(one)


@pytest.mark.django_db
def test_a_measure_older_than_the_shed_window_is_not_used(chain, submit, monkeypatch, settings):
    settings.GTX_INTAKE_SHED_MS = 100
    assert submit(signed(SENDER)).status_code == 202
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 1)
    assert submit(signed(SENDER, nonce=1)).status_code == 503
    one = _length([signed(SENDER, nonce=1)])
    assert shed.shut_to(one)
    time.sleep(0.15)
    assert not shed.shut_to(one)


@pytest.mark.django_db
def test_the_reserve_for_light_senders_does_not_close_the_door(chain, submit, monkeypatch, settings):
    monkeypatch.setattr(admission, "MEMPOOL_MAX", 200)
    settings.GTX_MEMPOOL_MAX_PER_SENDER = 100
    assert submit([signed(SENDER, nonce=n) for n in range(100)]).status_code == 202
    assert submit([signed("wind_korat", nonce=n) for n in range(80)]).status_code == 202
    # Past the reserve, but room is left for households: the door stays open for them.
    assert submit(signed("wind_korat", nonce=80)).status_code == 503
    assert not shed.shut_to(_length([signed("home_malee")]))


def test_the_bytes_a_transaction_takes_are_measured_anew_after_two_windows(monkeypatch):
    """One padded batch must not blind the door's estimate for the life of the process."""
    clock = [1000.0]
    monkeypatch.setattr(shed.time, "monotonic", lambda: clock[0])
    measured = shed._BytesPerTx()
    measured.note(1_000_000, 1)  # one transaction padded to a megabyte
    measured.note(40_000, 100)
    assert measured.most() == 1_000_000
    clock[0] += shed.BYTES_PER_TX_WINDOW_S
    measured.note(40_000, 100)
    assert measured.most() == 1_000_000  # the previous window still counts
    clock[0] += shed.BYTES_PER_TX_WINDOW_S
    measured.note(40_000, 100)
    assert measured.most() == 400
    clock[0] += 3 * shed.BYTES_PER_TX_WINDOW_S
    assert measured.most() == 400  # until a batch is read: nothing to measure anew from
    measured.note(30_000, 100)
    assert measured.most() == 300


def _door_passed_submit(batch) -> int:
    """POST ``batch`` as the door hands on one it found room for: the status of the answer."""
    request = AsyncRequestFactory().post(
        shed.TRANSACTIONS_PATH, json.dumps(batch), content_type="application/json"
    )
    request.scope[shed.ROOM_HELD_KEY] = len(batch)
    return TransactionSubmitView.as_view()(request).status_code


def _gossip_fills(count: int) -> None:
    """``count`` transactions of another sender, admitted as a peer's gossip is: never refused for room."""
    batch = [signed("wind_korat", nonce=n) for n in range(count)]
    admission.transactions_submit(batch, gossip=False, skip_known=True)


@pytest.mark.django_db
def test_a_batch_the_door_found_room_for_is_admitted_though_gossip_took_the_room_meanwhile(
    chain, submit, settings
):
    """Up to twice the mempool's limit: a late refusal would cost its client a read, parsed and
    counted batch's wait, where the door answers before the body."""
    settings.GTX_INTAKE_MIN_WAITING = 4  # no blocks measured yet: the limit
    assert submit(signed(SENDER)).status_code == 202
    _gossip_fills(3)  # between the door and intake, the room is taken
    assert submit(signed(SENDER, nonce=1)).status_code == 503  # let in unjudged: intake's count rules
    assert _door_passed_submit([signed(SENDER, nonce=n) for n in (1, 2)]) == 202  # 4 + 2 <= 2 x 4
    # Intake over shards: the web process hands the door's pass to the shard's worker.
    assert "problems" in scaling.shard_batch_admit([signed(SENDER, nonce=3)], 0, 0)
    assert "problems" not in scaling.shard_batch_admit([signed(SENDER, nonce=3)], 0, 0, door_passed=True)
    assert _door_passed_submit([signed(SENDER, nonce=n) for n in (4, 5)]) == 503  # 7 + 2 > 2 x 4
    assert MempoolTx.objects.count() == 7


def test_the_sites_asgi_stack_hands_the_doors_decision_to_intake(monkeypatch):
    """Through every middleware of the site's application, to what the view asks of intake: the
    door's pass with a fresh measure that the batch fits, none without one."""
    from chain.api import views
    from gridtokenx_site.asgi import application

    asked = []
    monkeypatch.setattr(
        views,
        "transactions_submit",
        lambda wires, **kw: asked.append(kw["door_passed"]) or admission.AdmittedBatch([]),
    )
    body = json.dumps([{"a": "transaction"}]).encode()

    def post() -> int:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {"type": "http", "method": "POST", "path": shed.TRANSACTIONS_PATH, "headers": headers}
        scope |= {"query_string": b"", "client": ("127.0.0.2", 5000), "server": ("127.0.0.1", 80)}

        async def run():
            app = ApplicationCommunicator(application, scope)
            await app.send_input({"type": "http.request", "body": body, "more_body": False})
            return (await app.receive_output(5))["status"]

        return async_to_sync(run)()

    assert post() == 202
    admission.room_seen = admission.RoomSeen(10**9, 1, admission.monotonic_ms())  # the door saw room
    shed.note_batch(len(body), 1)
    assert post() == 202
    assert asked == [False, True]


@pytest.mark.anyio
async def test_the_door_holds_the_room_of_the_batches_it_let_in_until_they_are_answered():
    """Batches in the site's hands at once are judged against the room less what the others hold:
    the door does not let in three batches on the room of one."""
    shed._bytes_per_tx.note(1_000, 10)  # 100 bytes a transaction
    admission.room_seen = admission.RoomSeen(10**9, 10, admission.monotonic_ms())
    release, passes = asyncio.Event(), []

    async def inner(scope, receive, send):
        passes.append(scope[shed.ROOM_HELD_KEY])
        await release.wait()
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    door = shed.IntakeDoor(inner)

    def post(transactions: int) -> ApplicationCommunicator:
        headers = [(b"content-length", str(100 * transactions).encode())]
        return ApplicationCommunicator(
            door, {"type": "http", "method": "POST", "path": shed.TRANSACTIONS_PATH, "headers": headers}
        )

    first = post(6)
    await first.send_input({"type": "http.request", "body": b"[]", "more_body": False})
    await asyncio.sleep(0.05)
    assert (passes, shed.held_by_passes) == ([6], 6)
    second = post(6)  # 6 more do not fit in the 4 the first left
    await second.send_input({"type": "http.request", "body": b"[]", "more_body": False})
    assert (await second.receive_output(1))["status"] == 503
    assert shed.door_pass(400) == 4  # 4 do

    release.set()
    assert (await first.receive_output(1))["status"] == 202
    await first.receive_output(1)
    assert shed.held_by_passes == 0
    assert shed.door_pass(600) == 6  # its room is the door's to judge again
    admission.room_seen = None
    assert shed.door_pass(600) == 0  # no measure: let in, and intake counts


def _refused_unread(code: str) -> float:
    """What the site's /metrics says of the batches its door refused unread with ``code``."""
    samples = [s for family in metrics.INTAKE_REFUSED_UNREAD.collect() for s in family.samples]
    return next((s.value for s in samples if s.name.endswith("_total") and s.labels == {"code": code}), 0)


def _no_room(height: int = 10**9) -> None:
    """As after intake found the mempool full, at a head higher than any note in the cache."""
    admission.room_seen = admission.RoomSeen(height, 0, admission.monotonic_ms())


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
async def test_while_shut_batches_are_refused_unread_and_everything_else_passes(settings):
    settings.GTX_INTAKE_SHED_MS = 200
    reached = []
    door = _door(reached)
    _no_room()
    counted = _refused_unread(admission.MEMPOOL_FULL)
    status, headers = await _post(door)
    assert (status, headers[b"retry-after"], reached) == (503, b"2", [])
    assert _refused_unread(admission.MEMPOOL_FULL) == counted + 1
    assert (await _post(door, "/api/v1/status/"))[0] == 202
    assert (await _post(door, method="GET"))[0] == 202
    time.sleep(0.25)
    assert (await _post(door))[0] == 202
    assert reached == ["/api/v1/status/", shed.TRANSACTIONS_PATH, shed.TRANSACTIONS_PATH]


def _daphne_channel(processed: list, seen=lambda request: request.content.read()):
    """A connection to the request class the site's daphne uses, its application replaced:
    what ``seen`` reads of each request it is handed goes into ``processed``."""

    class Application(http.Request):
        def process(self):
            processed.append(seen(self))
            self.setResponseCode(202)
            self.finish()

    channel = http.HTTPChannel()
    channel.requestFactory = body_limited_request(Application, 1_000_000)
    transport = StringTransport()
    channel.makeConnection(transport)
    return channel, transport


HEAD = b"POST /api/v1/transactions/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def test_the_sites_daphne_answers_a_shut_door_before_the_body_arrives(settings):
    processed = []
    channel, transport = _daphne_channel(processed)
    _no_room()
    counted = _refused_unread(admission.MEMPOOL_FULL)
    channel.dataReceived(HEAD + b"Content-Length: 100000\r\n\r\n")  # and not a byte of the body
    assert _refused_unread(admission.MEMPOOL_FULL) == counted + 1

    answer = transport.value()
    assert answer.startswith(b"HTTP/1.1 503 ") and b"Retry-After: 2\r\n" in answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["code"] == admission.MEMPOOL_FULL
    assert transport.disconnecting and processed == []


def test_the_sites_daphne_reads_a_batch_while_the_door_is_open():
    processed = []
    channel, transport = _daphne_channel(processed)
    channel.dataReceived(HEAD + b"Content-Length: 2\r\n\r\n[]")
    assert transport.value().startswith(b"HTTP/1.1 202") and processed == [b"[]"]


def test_the_sites_daphne_leaves_a_forms_body_to_the_application():
    """Twisted parses no POST form or multipart body into ``request.args``: daphne hands the raw
    body on, and Django parses it once."""
    processed = []
    channel, transport = _daphne_channel(processed, lambda request: (request.args, request.content.read()))
    form = b"username=somchai&password=x"
    channel.dataReceived(
        b"POST /accounts/login/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(form)
        + form
    )
    assert transport.value().startswith(b"HTTP/1.1 202") and processed == [({}, form)]


def test_the_sites_daphne_formats_no_twisted_access_line():
    """daphne writes the access log; Twisted's own line per request went to a log daphne points
    nowhere, so the site's factory formats none."""
    formatted = []
    factory = HTTPFactoryWithoutTwistedLog(server=None)
    factory._logFormatter = lambda when, request: formatted.append(request) or ""
    factory.startFactory()
    try:
        factory.log(object())
    finally:
        factory.stopFactory()
    assert formatted == []


def test_the_sites_daphne_is_built_from_the_sites_factory_and_request(monkeypatch):
    # Recorded as they are, so that they are put back after the test.
    monkeypatch.setattr(http_protocol, "WebRequest", http_protocol.WebRequest)
    monkeypatch.setattr(daphne_server, "HTTPFactory", daphne_server.HTTPFactory)
    install(1_000)
    assert daphne_server.HTTPFactory is HTTPFactoryWithoutTwistedLog
    assert http_protocol.WebRequest.__name__ == "BodyLimitedWebRequest"


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

    counted = _refused_unread(admission.INTAKE_BUSY)
    status, headers = await _post(door)
    assert (status, headers[b"retry-after"]) == (503, b"2") and len(reached) == 2
    assert _refused_unread(admission.INTAKE_BUSY) == counted + 1

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
