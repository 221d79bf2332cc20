"""Settlement's write path: a holder's certificate transfer and claim, signed with their wallet key."""

from chain.ledger import errors
from chain.ledger.tx import Transaction
from chain.models import Wallet
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_key_open
from settlement.ledger import certificates

#: Which form field a refusal belongs beside.
FIELD_OF_CODE = {
    errors.BAD_ADDRESS: "to",
    errors.SELF_TRANSFER: "to",
    errors.BAD_AMOUNT: "wh",
    certificates.INSUFFICIENT_CERTIFICATE: "wh",
    certificates.CERTIFICATE_NOT_FOUND: None,
    certificates.NOT_HOLDER: None,
    certificates.ALREADY_CLAIMED: None,
}


def certificate_sign(*, wallet: Wallet, kind: str, payload: dict) -> Transaction:
    """``certificate_transfer`` or ``certificate_claim`` for the wallet's owner; Refused says why not."""
    if kind not in (certificates.CERTIFICATE_TRANSFER.name, certificates.CERTIFICATE_CLAIM.name):
        raise ValueError(kind)
    return transaction_sign_submit(
        key=wallet_key_open(wallet), kind=kind, payload=payload, fields=FIELD_OF_CODE
    )
