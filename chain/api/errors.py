"""JSON errors with a stable code and a human message, for every API failure."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

CODES = {
    exceptions.ParseError: "malformed_json",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
}


def error_response(code: str, message: str, http_status: int, **extra) -> Response:
    return Response({"error": {"code": code, "message": message, **extra}}, status=http_status)


def api_exception_handler(exc, context):
    from django.core.exceptions import RequestDataTooBig

    if isinstance(exc, RequestDataTooBig):
        return error_response(
            "too_large", "The request body is too large.", status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for cls, c in CODES.items() if isinstance(exc, cls)), "invalid")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    message = detail if isinstance(detail, str) else "The request is not valid."
    extra = {} if isinstance(detail, str) else {"fields": detail}
    response.data = {"error": {"code": code, "message": str(message), **extra}}
    return response
