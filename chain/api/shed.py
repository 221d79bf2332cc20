"""Load shedding at the door: while the mempool is full, a batch is refused before it is read.

When intake refuses a batch because the mempool holds all this site measured it can finalize
(``mempool_full`` for the whole batch, not a crowded sender's share), it tells this process to
shed for GTX_INTAKE_SHED_MS: during that time a POST to the transactions endpoint is answered
503 with Retry-After by this ASGI middleware, on the event loop, without reading the body,
waiting for a thread of Django's, or touching the database. The first request after the
window goes through and measures again, so the door reopens as soon as there is room.
A refused client would have been refused anyway; what the site saves is the CPU that reading,
parsing and counting the mempool cost under the very load that filled it.
"""

import json
import time

from django.conf import settings

from chain.services.admission import MEMPOOL_FULL, RETRY_AFTER_SECONDS

TRANSACTIONS_PATH = "/api/v1/transactions/"
_shed_until = 0.0
_BODY = json.dumps(
    {
        "error": {
            "code": MEMPOOL_FULL,
            "message": "The mempool is full; retry in a few seconds.",
        }
    }
).encode()


def shed_after_full_mempool() -> None:
    """Intake found no room for anyone: refuse at the door for the next GTX_INTAKE_SHED_MS."""
    global _shed_until
    _shed_until = time.monotonic() + settings.GTX_INTAKE_SHED_MS / 1000


def shedding() -> bool:
    return time.monotonic() < _shed_until


class ShedWhileFull:
    """ASGI middleware for "http": 503 ``mempool_full`` to transaction batches while shedding."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if not (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] == TRANSACTIONS_PATH
            and shedding()
        ):
            return await self.app(scope, receive, send)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(_BODY)).encode()),
            (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
        ]
        await send({"type": "http.response.start", "status": 503, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})
