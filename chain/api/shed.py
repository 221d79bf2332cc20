"""Load shedding at the door of intake: excess batches are refused before they are read.

Two rules, before a batch waits for a thread of Django's, is read, parsed or counted against
the mempool:

- **No room.** Intake notes in this process, with every batch it admits or refuses, how many
  more of a client's transactions fit (``admission.room_seen``). Between two blocks the room
  only shrinks, so a batch whose size says it holds more is refused (``mempool_full``) unread,
  until the site commits a block that leaves room for it, as the process that commits it notes
  in the site's cache (``admission.room_after_newer_block``, read only while the door is shut). A
  batch's count is estimated from its bytes at the most bytes a transaction took in the
  batches this process read lately (``_BytesPerTx``): at most its true count for transactions
  of the sizes seen, so a batch that would fit is let through. A measure older than
  GTX_INTAKE_SHED_MS is not used, nor the cache's when it cannot be read: intake then
  measures again.
- **Busy.** At most GTX_INTAKE_IN_FLIGHT batches are in this process's hands at once; one more
  is refused (``intake_busy``). A batch that got in is then admitted or refused within a few
  batches' work, instead of waiting behind a growing queue of requests: that wait was most of
  the latency of what was accepted under overload.

A batch let in on a fresh measure that it fits holds its room while it is in this process's
hands (``door_pass``): the next batches are judged against the room less what those hold, and
intake admits it though peers' gossip (never refused for room) took that room meanwhile, up to
``admission.DOOR_OVERFILL`` times the mempool's limit. At three times the knee, refusing it
there instead cost its client 80 to 230 ms, against about 15 at the door.

Both answer 503 with Retry-After; a refused client would have been refused or kept waiting
anyway, and the site keeps the CPU that reading and parsing the excess cost. Under daphne the
first rule answers as soon as the request's headers are in, before its body
(``refusal_before_body``, called by gridtokenx_site.daphne_server): on a busy machine the
turns of the event loop that reading 100 KB took were most of a refusal's time.
"""

import json
import time

from django.conf import settings

from chain import metrics
from chain.services import admission
from chain.services.admission import INTAKE_BUSY, MEMPOOL_FULL, RETRY_AFTER_SECONDS

TRANSACTIONS_PATH = "/api/v1/transactions/"


def _body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


FULL_BODY = _body(MEMPOOL_FULL, "The mempool is full; retry in a few seconds.")
BUSY_BODY = _body(INTAKE_BUSY, "This site is admitting as many batches as it can; retry in a few seconds.")


#: Seconds after which the most bytes a transaction took is measured anew (``note_batch``).
BYTES_PER_TX_WINDOW_S = 10.0


class _BytesPerTx:
    """The most bytes one transaction took in the batches this process read in the current and
    the previous window of BYTES_PER_TX_WINDOW_S (a batch's bytes over its count, JSON's brackets,
    commas and any padding included). Windows, so that one batch of padded or large transactions
    leaves the door estimating low (letting batches through to be measured) for seconds, not for
    the life of the process."""

    def __init__(self) -> None:
        self.window_start, self.current, self.previous = time.monotonic(), 0, 0

    def note(self, body_bytes: int, count: int) -> None:
        now = time.monotonic()
        if now - self.window_start >= BYTES_PER_TX_WINDOW_S:
            elapsed_windows = (now - self.window_start) // BYTES_PER_TX_WINDOW_S
            self.previous = self.current if elapsed_windows == 1 else 0
            self.current, self.window_start = 0, now
        if count:
            self.current = max(self.current, -(-body_bytes // count))

    def most(self) -> int:
        """0 when no batch was read in the two windows."""
        return max(self.current, self.previous)


_bytes_per_tx = _BytesPerTx()


def note_batch(body_bytes: int, count: int) -> None:
    """A client's batch of ``count`` transactions in ``body_bytes`` was read."""
    _bytes_per_tx.note(body_bytes, count)


#: Transactions, as the door estimated them, of the batches it let in on a measure that they fit
#: and that are still in this process's hands (``IntakeDoor``; one event loop: no lock).
held_by_passes = 0
#: What ``door_pass`` answers for a batch it refuses unread.
SHUT = -1
#: The key of the ASGI scope in which the door says how many transactions' room it held for a batch.
ROOM_HELD_KEY = "gtx.room_held"


def door_pass(content_length: int | None) -> int:
    """For a batch declaring ``content_length`` bytes (None: chunked): SHUT when it is refused
    unread; else how many transactions the door estimated it holds and found room for, or 0 when
    no fresh measure judged it (intake then measures)."""
    seen = admission.room_seen
    if seen is None or admission.monotonic_ms() - seen.at_ms >= settings.GTX_INTAKE_SHED_MS:
        return 0  # no recent sign in this process of the room: intake measures
    fits = _fits(content_length, seen.left - held_by_passes)
    if fits is None:
        # Not judged against the room this process saw, nor against a newer block's.
        left = admission.room_after_newer_block(seen.height)  # read only then: one Redis round trip
        fits = _fits(content_length, left - held_by_passes) if left is not None else None
    return SHUT if fits is None else fits


def shut_to(content_length: int | None) -> bool:
    """Whether a batch declaring ``content_length`` bytes (None: chunked) is refused unread."""
    return door_pass(content_length) == SHUT


def _fits(content_length: int | None, left: int) -> int | None:
    """None when the batch does not fit in ``left``; else its estimated count (0: unknown)."""
    if left <= 0:
        return None
    most = _bytes_per_tx.most()
    if content_length is None or not most:
        return 0  # its size is unknown: intake measures it
    estimated = max(1, content_length // most)  # a batch holds one at least
    return estimated if estimated <= left else None


def _is_batch(method: bytes | str, path: bytes | str) -> bool:
    if isinstance(path, bytes):
        method, path = method.decode("latin-1"), path.decode("latin-1")
    return method == "POST" and path.partition("?")[0] == TRANSACTIONS_PATH


def refusal_before_body(method: bytes, target: bytes, content_length: int | None) -> bytes | None:
    """The whole raw HTTP answer to a request whose headers alone are in, or None to read it."""
    if not (_is_batch(method, target) and shut_to(content_length)):
        return None
    metrics.door_refusal_counted(MEMPOOL_FULL)
    return (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(FULL_BODY)}\r\nRetry-After: {RETRY_AFTER_SECONDS}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + FULL_BODY
    )


class IntakeDoor:
    """ASGI middleware for "http": 503 to transaction batches while shut or at the in-flight limit."""

    def __init__(self, app):
        self.app = app
        #: Batches of this process between the door and their answer (one event loop: no lock).
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        global held_by_passes
        if not (scope["type"] == "http" and _is_batch(scope["method"], scope["path"])):
            return await self.app(scope, receive, send)
        passed = door_pass(_content_length(scope))
        if passed == SHUT:
            return await _refuse(send, MEMPOOL_FULL, FULL_BODY)
        if self.in_flight >= settings.GTX_INTAKE_IN_FLIGHT:
            return await _refuse(send, INTAKE_BUSY, BUSY_BODY)
        self.in_flight += 1
        held_by_passes += passed
        try:
            return await self.app({**scope, ROOM_HELD_KEY: passed}, receive, send)
        finally:
            self.in_flight -= 1
            held_by_passes -= passed


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send, code: str, body: bytes) -> None:
    metrics.door_refusal_counted(code)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
