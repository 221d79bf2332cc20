"""What a site writes to its log: one line per refused request.

Refusals are what an outsider can cause at will (a 403, a bad Host header, an
oversized form), so each is one line: Django would log them with the exception's
traceback, and a few thousand bad requests would bury the one real 500, which
keeps its traceback. The file those lines go to, and its rotation, is
localnet.logs.SiteLog.
"""

import logging

#: Longest exception text a one-line refusal carries.
MAX_REASON_CHARS = 300


def _one_line(text: str) -> str:
    """``text`` without line breaks or control characters (escaped), cut to MAX_REASON_CHARS."""
    escaped = text.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= MAX_REASON_CHARS else escaped[:MAX_REASON_CHARS] + "..."


class RefusalsOnOneLine(logging.Filter):
    """A 4xx logged with its exception becomes one line naming the exception, with no traceback.

    Django logs PermissionDenied, BadRequest and SuspiciousOperation (DisallowedHost,
    RequestDataTooBig, ...) with ``exc_info``; their records carry ``status_code``.
    Records without a status under 500 pass unchanged: a real error keeps its traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if record.exc_info and isinstance(status, int) and status < 500:
            exc = record.exc_info[1]
            reason = f"{type(exc).__name__}: {_one_line(str(exc))}" if exc is not None else ""
            record.msg = f"{record.getMessage()} ({reason})" if reason else record.getMessage()
            record.args = ()
            record.exc_info = record.exc_text = None
        return True
