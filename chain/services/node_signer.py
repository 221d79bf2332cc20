"""Transactions this site signs with its own node key (a validator's key): one nonce picker at a time.

Staff actions for the site's validator (governance votes, validator
administration), the grid operator's reports and limits, and double-sign
evidence are all signed here, so two of them never take the same nonce.
"""

from django.db import connection, transaction

from chain.ledger.kinds import get_kind
from chain.ledger.tx import Transaction, sign_transaction
from chain.models import ChainHead
from chain.node import node_address, node_signing_key
from chain.services.admission import transactions_submit
from chain.services.mempool import next_nonce

#: pg advisory lock id held while the nonce is picked and the transaction admitted.
NODE_SIGNER_LOCK = 0x67747876  # "gtxv"


def node_transaction_submit(*, kind: str, payload: dict) -> Transaction:
    """Sign ``kind``/``payload`` with the node key at its next free nonce and admit it.

    Raises LedgerError when the payload is malformed and BatchRejected when
    admission refuses the transaction; nothing is admitted then.
    """
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [NODE_SIGNER_LOCK])
        head = ChainHead.objects.only("chain_id", "params").get()
        get_kind(kind).check_payload(payload, head.params)
        tx = sign_transaction(
            node_signing_key(),
            chain_id=head.chain_id,
            nonce=next_nonce(node_address()),
            kind=kind,
            payload=payload,
        )
        transactions_submit([tx.to_wire()])
    return tx
