"""The site's door: an HTTP request whose path or query string spells NUL is refused before any view.

PostgreSQL's text cannot hold U+0000, so a view that looks up what a URL names
(an account, a meter, a username, a search) would fail in the database: a 500.
No route or parameter takes NUL, so it is refused here once, for every page, API
and peer route, as 400 ``bad_request``. (daphne percent-decodes the path, with
invalid UTF-8 replaced; Django decodes the query the same way, so NUL is the one
character of the request line PostgreSQL cannot store.)
"""

import json

BAD_REQUEST = "bad_request"
_BODY = json.dumps(
    {
        "error": {
            "code": BAD_REQUEST,
            "message": "The path or query holds U+0000 (NUL), which nothing here takes.",
        }
    }
).encode()


def _spells_nul(scope: dict) -> bool:
    query = scope.get("query_string", b"")
    return "\x00" in scope.get("path", "") or b"%00" in query or b"\x00" in query


class RefuseNul:
    """ASGI middleware for the "http" protocol: 400 ``bad_request`` when the request line spells NUL."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _spells_nul(scope):
            return await self.app(scope, receive, send)
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_BODY)).encode())]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": _BODY})
