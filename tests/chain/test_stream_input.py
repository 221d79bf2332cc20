"""What a client sends on a stream, and where it connects, never ends in a server error (1011).

Streams take ``{"type": "ping"}`` only: anything else gets an error frame and the
stream stays open; a frame over MAX_CLIENT_FRAME closes it with 4413; a path
with no stream is accepted only to be closed with 4404. Run through the site's
whole ASGI application (origin check, sessions, routing), as daphne runs it.
"""

from unittest import mock

import pytest
from channels.testing import WebsocketCommunicator

from chain.consumers import BAD_MESSAGE, BINARY_FRAME, CLOSE_NOT_FOUND, CLOSE_TOO_BIG, MAX_CLIENT_FRAME
from gridtokenx_site.asgi import application

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("close_thread_connections"),
]

STREAMS = ["/ws/chain/", "/ws/market/", "/ws/grid/"]
ORIGIN = [(b"origin", b"http://127.0.0.1")]

#: Text frames that are not a ping, each with the code of its error frame.
JUNK_TEXT = {
    "not JSON": ("{", "malformed_json"),
    "empty": ("", "malformed_json"),
    "nested 1,000 deep": ("[" * 1000 + "]" * 1000, "malformed_json"),
    "nested 2,000 deep (under the size cap)": ("[" * 2000, "malformed_json"),
    "a duplicate key": ('{"type": "ping", "type": "ping"}', "malformed_json"),
    "NaN": ('{"type": NaN}', "malformed_json"),
    "an escaped NUL": ('{"type": "ping\\u0000"}', "malformed_json"),
    "a list": ('["ping"]', BAD_MESSAGE),
    "a string": ('"ping"', BAD_MESSAGE),
    "null": ("null", BAD_MESSAGE),
    "a number": ("12", BAD_MESSAGE),
    "type a list": ('{"type": ["ping"]}', BAD_MESSAGE),
    "type an object": ('{"type": {"ping": 1}}', BAD_MESSAGE),
    "an unknown type": ('{"type": "subscribe"}', BAD_MESSAGE),
}


async def connected(path: str) -> WebsocketCommunicator:
    stream = WebsocketCommunicator(application, path, headers=ORIGIN)
    accepted, _ = await stream.connect(timeout=5)
    assert accepted
    first = await stream.receive_json_from(timeout=5) if path != "/ws/chain/" else None
    assert first is None or first["type"] == "subscribed"
    return stream


async def assert_still_answers_pings(stream: WebsocketCommunicator) -> None:
    await stream.send_json_to({"type": "ping"})
    assert await stream.receive_json_from(timeout=5) == {"type": "pong"}


@pytest.mark.parametrize("path", STREAMS)
async def test_it_refuses_junk_text_frames_with_an_error_frame_and_stays_open(chain, path):
    stream = await connected(path)
    try:
        for frame, code in JUNK_TEXT.values():
            await stream.send_input({"type": "websocket.receive", "text": frame})  # "" too
            reply = await stream.receive_json_from(timeout=5)
            assert reply["type"] == "error" and reply["error"]["code"] == code, frame[:40]
            assert reply["error"]["message"]
        await assert_still_answers_pings(stream)
    finally:
        await stream.disconnect()


@pytest.mark.parametrize("path", STREAMS)
async def test_its_messages_reach_their_handlers_with_no_hop_to_close_connections(chain, path):
    """Channels' dispatch would hop to the sync thread and back for every message (each block
    pushed, each ping); the streams' database work closes its own connections."""
    with mock.patch("channels.consumer.aclose_old_connections") as hop:
        stream = await connected(path)
        try:
            await assert_still_answers_pings(stream)
            assert hop.await_count == 0
        finally:
            await stream.disconnect()


@pytest.mark.parametrize("path", STREAMS)
async def test_it_refuses_binary_frames_with_an_error_frame(chain, path):
    stream = await connected(path)
    try:
        await stream.send_to(bytes_data=b'{"type": "ping"}')
        reply = await stream.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["error"]["code"] == BINARY_FRAME
        await assert_still_answers_pings(stream)
    finally:
        await stream.disconnect()


@pytest.mark.parametrize("frame", ["x" * (MAX_CLIENT_FRAME + 1), b"\0" * 1_000_000], ids=["text", "binary"])
async def test_it_closes_on_a_frame_over_the_cap_with_4413(chain, frame):
    stream = await connected("/ws/chain/")
    try:
        await stream.send_to(**({"text_data": frame} if isinstance(frame, str) else {"bytes_data": frame}))
        closed = await stream.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": CLOSE_TOO_BIG}
    finally:
        await stream.disconnect()


@pytest.mark.parametrize(
    "path", ["/ws/", "/ws/nothing/", "/ws/chain", "/ws/chain/extra/", "/", "/api/v1/status/", "/ws/%00/"]
)
async def test_a_path_with_no_stream_is_closed_with_4404(chain, path):
    stream = WebsocketCommunicator(application, path, headers=ORIGIN)
    accepted, _ = await stream.connect(timeout=5)
    assert accepted
    try:
        reply = await stream.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["error"]["code"] == "not_found"
        assert await stream.receive_output(timeout=5) == {"type": "websocket.close", "code": CLOSE_NOT_FOUND}
    finally:
        await stream.disconnect()


@pytest.mark.parametrize(
    "query",
    [b"slot=%C2%B2", b"slot=\xb2", b"zone=\xff\xfe", b"slot=" + b"9" * 40, b"slot=-60000", b"zone=%00"],
    ids=["superscript two", "latin-1 byte", "not UTF-8", "40 digits", "negative", "NUL"],
)
async def test_the_market_stream_refuses_a_bad_query_with_4400(chain, query):
    stream = WebsocketCommunicator(application, "/ws/market/?" + query.decode("latin-1"), headers=ORIGIN)
    stream.scope["query_string"] = query
    accepted, _ = await stream.connect(timeout=5)
    assert accepted
    try:
        reply = await stream.receive_json_from(timeout=5)
        assert reply["type"] == "error" and reply["error"]["code"] == "bad_query"
        assert await stream.receive_output(timeout=5) == {"type": "websocket.close", "code": 4400}
    finally:
        await stream.disconnect()


async def test_one_address_opens_at_most_its_share_of_streams(settings):
    """Past GTX_STREAMS_PER_CLIENT open from one address: an error frame and a 4429 close; a slot
    given back is free again."""
    from chain.consumers import CLOSE_TOO_MANY, STREAM_SLOTS, TOO_MANY_STREAMS

    settings.GTX_STREAMS_PER_CLIENT = 2
    first, second = await connected("/ws/chain/"), await connected("/ws/grid/")
    third = WebsocketCommunicator(application, "/ws/market/", headers=ORIGIN)
    assert (await third.connect(timeout=5))[0]
    refusal = await third.receive_json_from(timeout=5)
    assert refusal["error"]["code"] == TOO_MANY_STREAMS
    assert (await third.receive_output(timeout=5)) == {"type": "websocket.close", "code": CLOSE_TOO_MANY}
    await third.disconnect()

    await first.disconnect()
    again = await connected("/ws/chain/")
    await again.disconnect()
    await second.disconnect()
    assert not STREAM_SLOTS.open, "every slot is given back"
