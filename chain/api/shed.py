"""Load shedding at the door of intake: excess batches are refused before they are read.

Two rules, on the event loop, before a batch waits for a thread of Django's, is read, parsed or
counted against the mempool:

- **Full.** When intake refuses a batch because the mempool holds all this site measured it
  can finalize (``mempool_full`` for the whole batch, not a crowded sender's share), this
  process refuses every batch for GTX_INTAKE_SHED_MS; the first one after the window goes
  through and measures again, so the door reopens as soon as there is room.
- **Busy.** At most GTX_INTAKE_IN_FLIGHT batches are in this process's hands at once; one more
  is refused (``intake_busy``). A batch that got in is then admitted or refused within a few
  batches' work, instead of waiting behind a growing queue of requests: that wait was most of
  the latency of what was accepted under overload.

Both answer 503 with Retry-After; a refused client would have been refused or kept waiting
anyway, and the site keeps the CPU that reading and parsing the excess cost.
"""

import json
import time

from django.conf import settings

from chain.services.admission import INTAKE_BUSY, MEMPOOL_FULL, RETRY_AFTER_SECONDS

TRANSACTIONS_PATH = "/api/v1/transactions/"
_shed_until = 0.0


def _body(code: str, message: str) -> bytes:
    return json.dumps({"error": {"code": code, "message": message}}).encode()


FULL_BODY = _body(MEMPOOL_FULL, "The mempool is full; retry in a few seconds.")
BUSY_BODY = _body(INTAKE_BUSY, "This site is admitting as many batches as it can; retry in a few seconds.")


def shed_after_full_mempool() -> None:
    """Intake found no room for anyone: refuse at the door for the next GTX_INTAKE_SHED_MS."""
    global _shed_until
    _shed_until = time.monotonic() + settings.GTX_INTAKE_SHED_MS / 1000


def shedding() -> bool:
    return time.monotonic() < _shed_until


class IntakeDoor:
    """ASGI middleware for "http": 503 to transaction batches while full or at the in-flight limit."""

    def __init__(self, app):
        self.app = app
        #: Batches of this process between the door and their answer (one event loop: no lock).
        self.in_flight = 0

    async def __call__(self, scope, receive, send):
        if not (scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == TRANSACTIONS_PATH):
            return await self.app(scope, receive, send)
        if shedding():
            return await _refuse(send, FULL_BODY)
        if self.in_flight >= settings.GTX_INTAKE_IN_FLIGHT:
            return await _refuse(send, BUSY_BODY)
        self.in_flight += 1
        try:
            return await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


async def _refuse(send, body: bytes) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})
