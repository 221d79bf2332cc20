"""JSON request bodies, decoded by the node's one strict decoder (chain.ledger.wire).

``StrictJSONParser`` is DRF's parser wherever DRF parses a body (the default in
settings.REST_FRAMEWORK); ``json_body`` reads the intake endpoints' bodies, which
skip DRF's parsing so that a batch of thousands is decoded once. Both refuse a
document the decoder refuses (too deep, duplicate keys, NaN, not UTF-8, NUL or a
lone surrogate) as 400 ``malformed_json``, never a 500.
"""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework import exceptions
from rest_framework.parsers import JSONParser

from chain.ledger.errors import LedgerError
from chain.ledger.wire import json_decode

JSON_MEDIA_TYPE = "application/json"


class StrictJSONParser(JSONParser):
    """application/json through ``json_decode``; a refusal is a ParseError (400 malformed_json)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return json_decode(stream.read())
        except LedgerError as exc:
            raise exceptions.ParseError(exc.message) from None


def json_body(request, *, what: str):
    """The decoded body of a JSON-only POST; refusals raise what the API's error handler answers.

    415 when the Content-Type is not application/json, 413 over the body limit
    (a chunked body declares no length, so the length read is checked too),
    400 ``malformed_json`` when the decoder refuses it. ``what`` names the body
    in the 415 message ("transactions", "readings").
    """
    if request.content_type.split(";")[0].strip() != JSON_MEDIA_TYPE:
        raise exceptions.UnsupportedMediaType(
            request.content_type,
            detail=f"Send the {what} as JSON with Content-Type: {JSON_MEDIA_TYPE}.",
        )
    raw = request.body  # RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE with a Content-Length
    if len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        raise RequestDataTooBig()
    try:
        return json_decode(raw)
    except LedgerError as exc:
        raise exceptions.ParseError(exc.message) from None
