"""JSON errors with a stable code and a human message, for every API failure.

Every failure under /api/ is ``{"error": {"code": ..., "message": ...}}``: DRF's
own exceptions, refused transactions (with ``problems``), oversized bodies,
unknown routes and unexpected server errors alike.
"""

import logging

from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import Resolver404, resolve
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

log = logging.getLogger(__name__)

# Codes of the HTTP layer; the ledger's refusal codes are in chain.ledger.errors.
MALFORMED_JSON = "malformed_json"
TOO_LARGE = "too_large"
UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
NOT_FOUND = "not_found"
NOT_AUTHENTICATED = "not_authenticated"
METHOD_NOT_ALLOWED = "method_not_allowed"
RATE_LIMITED = "rate_limited"
BAD_HASH = "bad_hash"
BAD_QUERY = "bad_query"
NO_WALLET = "no_wallet"
INTERNAL = "internal_error"


class BadQuery(exceptions.APIException):
    """A query parameter a view cannot take: 400 bad_query."""

    status_code = status.HTTP_400_BAD_REQUEST


CODES = {
    BadQuery: BAD_QUERY,
    exceptions.ParseError: MALFORMED_JSON,
    exceptions.NotAuthenticated: NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: NOT_FOUND,
    exceptions.MethodNotAllowed: METHOD_NOT_ALLOWED,
    exceptions.UnsupportedMediaType: UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: RATE_LIMITED,
}


def error_body(code: str, message: str, **extra) -> dict:
    return {"error": {"code": code, "message": message, **extra}}


def error_response(code: str, message: str, http_status: int, **extra) -> Response:
    return Response(error_body(code, message, **extra), status=http_status)


def too_large_response() -> Response:
    from django.conf import settings

    return error_response(
        TOO_LARGE,
        f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes; "
        "send smaller batches.",
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def api_exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return too_large_response()
    response = exception_handler(exc, context)
    if response is None:
        # Not an API exception: log it with its traceback, answer in JSON all the same.
        log.error("Unhandled error in %s", context.get("view"), exc_info=exc)
        return error_response(INTERNAL, "Something went wrong on this node.", 500)
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "invalid")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    message = detail if isinstance(detail, str) else "The request is not valid."
    extra = {} if isinstance(detail, str) else {"fields": detail}
    response.data = error_body(code, str(message), **extra)
    return response


def route_not_found(request, *args, **kwargs):
    """Any path under /api/ that names no endpoint (plain Django view: every method lands here)."""
    message = f"No API endpoint at {request.path}. The API is described at /api/v1/docs/."
    if not request.path.endswith("/"):
        try:
            if resolve(request.path + "/").func is not route_not_found:
                message = f"No API endpoint at {request.path}; did you mean {request.path}/ ?"
        except Resolver404:
            pass
    return JsonResponse(error_body(NOT_FOUND, message), status=404)
