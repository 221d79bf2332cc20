"""Errors with stable codes: API clients match on ``code``, people read ``message``.

A message is English, the same at every site (failed receipts keep it). Its text is a literal
template with ``%(name)s`` placeholders and the values beside it, so that the translation
catalogue holds every sentence and a page shows it in the reader's language
(``chain.refusals.refusal_text``; ``manage.py makemessages`` extracts the templates).
"""

from collections.abc import Mapping


def ledger_text(template: str, **values) -> str:
    """``template`` filled with ``values``: a sentence the ledger writes into state or a refusal,
    marked for the translation catalogue."""
    return template % values if values else template


class LedgerError(Exception):
    """A transaction or block was refused. ``code`` is stable; ``message`` is for people."""

    def __init__(self, code: str, message: str, values: Mapping | None = None):
        message = message % values if values else message
        super().__init__(message)
        self.code = code
        self.message = message


class Refused(LedgerError):
    """Nothing was signed or admitted: said to the person or client who asked, beside a form field.

    ``field`` names the form field at fault, if one is. An app keeps its own code -> field map
    (``fields``) as data and passes it where it refuses; an explicit ``field`` wins over it.
    """

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        fields: Mapping[str, str | None] | None = None,
    ):
        super().__init__(code, message)
        self.field = field if field is not None or fields is None else fields.get(code)


# Codes, importable by views and tests.
MALFORMED = "malformed"
BAD_FIELD = "bad_field"
BAD_AMOUNT = "bad_amount"
BAD_ADDRESS = "bad_address"
BAD_SIGNATURE = "bad_signature"
WRONG_CHAIN = "wrong_chain_id"
UNKNOWN_KIND = "unknown_kind"
UNKNOWN_SENDER = "unknown_sender"
NONCE_REPLAYED = "nonce_replayed"
NONCE_GAP = "nonce_gap"
DUPLICATE = "duplicate"
INSUFFICIENT_FUNDS = "insufficient_funds"
INSUFFICIENT_STAKE = "insufficient_stake"
INSUFFICIENT_ENERGY = "insufficient_energy"
SELF_TRANSFER = "self_transfer"
NOT_PERMITTED = "not_permitted"
