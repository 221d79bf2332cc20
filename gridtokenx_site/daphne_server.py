"""daphne, refusing a request body over GTX_MAX_BODY_BYTES while it arrives, and a shed batch unread.

daphne (Twisted) takes in a whole request, into memory or a temporary file, before it calls
the application, so gridtokenx_site.body_limit alone would answer 413 only after the last
byte. Here the server's request answers 413 and closes the connection as soon as the
declared Content-Length is over the limit, before any of the body, or as soon as a body
without one (chunked) passes it. A transaction batch that intake's door refuses for want of
room (chain.api.shed) is answered 503 as soon as its headers are in. The access log is
daphne's own: Twisted's second line per request is not made. Run as
``python -m gridtokenx_site.daphne_server`` with daphne's arguments (localnet.processes does).
"""

import io
import json
import os

from daphne import http_protocol
from daphne import server as daphne_server
from daphne.cli import CommandLineInterface


def body_limited_request(base: type, max_bytes: int) -> type:
    """A subclass of daphne's WebRequest that stops taking a body at ``max_bytes``, or before
    any of it when the answer cannot depend on it."""
    body = json.dumps(
        {
            "error": {
                "code": "too_large",
                "message": f"The request body is larger than {max_bytes} bytes; send smaller batches.",
            }
        }
    ).encode()
    response = (
        b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
    )

    class BodyLimitedWebRequest(base):
        body_refused = False
        body_bytes = 0

        def __init__(self, *args, **kwargs):
            # daphne hands the application the raw body. Twisted would also parse a POST's
            # Content-Type (through the email package: 3 % of daphne's CPU under load) and a
            # form's or multipart upload's body into ``request.args``, which nothing reads.
            kwargs["parsePOSTFormSubmission"] = False
            super().__init__(*args, **kwargs)

        def gotLength(self, length):
            super().gotLength(length)
            if length is not None and length > max_bytes:
                self._refuse(response)
                return
            from chain.api.shed import refusal_before_body  # the app is loaded by now

            shed = refusal_before_body(self.channel._command, self.channel._path, length)
            if shed is not None:
                self._refuse(shed)

        def handleContentChunk(self, data):
            if self.body_refused:
                return
            self.body_bytes += len(data)
            if self.body_bytes > max_bytes:
                self._refuse(response)
                return
            super().handleContentChunk(data)

        def process(self):
            if self.body_refused:
                return None  # answered already: the application never sees a cut-off body
            return super().process()

        def _refuse(self, answer: bytes):
            self.body_refused = True
            self.content.close()
            self.content = io.BytesIO()
            self.channel.transport.write(answer)
            self.channel.transport.loseConnection()

    return BodyLimitedWebRequest


class HTTPFactoryWithoutTwistedLog(http_protocol.HTTPFactory):
    """daphne's HTTP factory without Twisted's access line.

    daphne writes the access log itself (its action logger, to stdout). Twisted's factory also
    formats a line for every request and writes it to Twisted's log, which daphne sends nowhere
    at its default verbosity: 2 % of daphne's CPU in a quiet chain's heights, for nothing.
    """

    def log(self, request) -> None:
        pass


def install(max_body_bytes: int) -> None:
    """Have daphne build its HTTP factory and each connection's requests from the classes above
    (daphne reads both from these module attributes)."""
    http_protocol.WebRequest = body_limited_request(http_protocol.WebRequest, max_body_bytes)
    daphne_server.HTTPFactory = HTTPFactoryWithoutTwistedLog


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    from django.conf import settings

    install(settings.GTX_MAX_BODY_BYTES)
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
