"""The one way this site signs a transaction and admits it: browser wallets, its node key, meter registration.

Every signer follows one locking rule: a transaction-scoped advisory lock keyed by the
signer's address is held from picking the nonce until the transaction is admitted and
committed. Two tabs of one user, or two staff actions with the node key, therefore never
take the same nonce, and different signers never wait on each other.
"""

from collections.abc import Mapping

from django.db import connection, transaction
from nacl.signing import SigningKey

from chain.ledger.errors import LedgerError, Refused
from chain.ledger.keys import address_of
from chain.ledger.kinds import get_kind
from chain.ledger.tx import Transaction, sign_transaction
from chain.models import ChainHead
from chain.services.admission import BatchRejected, transactions_submit
from chain.services.mempool import next_nonce

#: First key of the signer locks (pg's two-int key space, apart from the one-bigint locks
#: such as consensus's); the second is taken from the signer's address.
SIGNER_LOCK_SPACE = 0x67747873  # "gtxs"


def signer_lock_id(address: str) -> int:
    """The signer lock's second key: the address's first 32 bits, as pg's signed int4.

    Two addresses sharing them only wait for each other; they never share a nonce.
    """
    return int.from_bytes(bytes.fromhex(address[:8]), "big", signed=True)


def transaction_sign_submit(
    *, key: SigningKey, kind: str, payload: dict, fields: Mapping[str, str | None] | None = None
) -> Transaction:
    """Sign ``kind``/``payload`` with ``key`` at its next free nonce and admit it.

    Holds the signer's lock (see the module docstring) until the caller's outermost
    transaction commits. Raises Refused, with its ``field`` from ``fields`` (the
    caller's code -> form field map), when the payload is malformed or admission
    refuses the transaction; nothing is admitted then.
    """
    signer = address_of(key)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [SIGNER_LOCK_SPACE, signer_lock_id(signer)]
            )
        head = ChainHead.objects.only("chain_id", "params").get()
        try:
            get_kind(kind).check_payload(payload, head.params)
            tx = sign_transaction(
                key, chain_id=head.chain_id, nonce=next_nonce(signer), kind=kind, payload=payload
            )
            transactions_submit([tx.to_wire()])
        except BatchRejected as exc:
            # One transaction: its problem's own words, without the batch's "Transaction 0:".
            raise Refused(exc.code, exc.problems[0]["message"], fields=fields) from exc
        except LedgerError as exc:
            raise Refused(exc.code, exc.message, fields=fields) from exc
    return tx
