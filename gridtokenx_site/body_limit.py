"""An ASGI middleware that refuses a request body over a limit before the application reads it.

Django checks DATA_UPLOAD_MAX_MEMORY_SIZE only after its handler has spooled the whole body.
Here a declared Content-Length over the limit is answered 413 before one byte is read, and
a body without one (chunked) is counted while it arrives: past the limit the application is
told the client went away, and the client gets the 413.

daphne buffers a whole request before it calls the application, so the site's daphne runs
with the same limit in its HTTP parser (gridtokenx_site.daphne_server); this middleware
holds it under any other ASGI server, and the TLS proxy in front holds it too (README).
"""

import json

TOO_LARGE = "too_large"


def _declared_length(headers) -> int | None:
    """The Content-Length header as an integer; None when absent; -1 when not a plain number."""
    for name, value in headers:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() and len(value) <= 18 else -1
    return None


async def _refuse(send, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    def __init__(self, app, *, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        too_large = f"The request body is larger than {self.max_bytes} bytes; send smaller batches."
        declared = _declared_length(scope["headers"])
        if declared == -1:
            return await _refuse(send, 400, "bad_request", "Content-Length is not a number of bytes.")
        if declared is not None and declared > self.max_bytes:
            return await _refuse(send, 413, TOO_LARGE, too_large)

        received = 0
        over = False
        response_started = False

        async def counted_receive():
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    over = True
                    return {"type": "http.disconnect"}
            return message

        async def tracked_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        await self.app(scope, counted_receive, tracked_send)
        if over and not response_started:
            await _refuse(send, 413, TOO_LARGE, too_large)
