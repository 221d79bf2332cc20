"""What a site keeps of a height: the consensus messages and proposed blocks it stored,
read as the machine and the peers take them, and forgotten once the height is decided."""

from django.db import connection

from chain.consensus.machine import Message
from chain.models import ChainHead, ConsensusMessage, ProposedBlock

#: Proposed blocks a resend carries (the peer protocol's per-request cap).
MAX_RELAYED_BLOCKS = 10


def stored_message(row: ConsensusMessage) -> Message:
    return Message(row.type, row.height, row.round, row.sender, row.block_hash, row.pol_round)


#: The height's messages in arrival order, each with whether an earlier step processed it; the
#: fresh ones are marked processed in the same statement (the step's transaction keeps both or
#: neither). The outer SELECT sees the table as the statement began: ``processed`` there is
#: the earlier steps' mark.
_HEIGHT_MESSAGES_SQL = (
    "WITH fresh AS (UPDATE chain_consensusmessage SET processed = true "
    "WHERE height = %(height)s AND NOT processed "
    "RETURNING id, type, height, round, sender, block_hash, pol_round) "
    "SELECT id, type, height, round, sender, block_hash, pol_round, false FROM fresh "
    "UNION ALL SELECT id, type, height, round, sender, block_hash, pol_round, true "
    "FROM chain_consensusmessage WHERE height = %(height)s AND processed ORDER BY id"
)


def height_messages(height: int) -> tuple[list[Message], list[Message]]:
    """The stored messages of ``height``: those earlier steps processed, and the fresh ones (now
    marked processed), each in arrival order. One plain statement: through the ORM, reading
    them and marking the fresh ones cost a step more CPU than the machine's own work."""
    processed, fresh = [], []
    with connection.cursor() as cursor:
        cursor.execute(_HEIGHT_MESSAGES_SQL, {"height": height})
        for _, type_, height_, round_, sender, block_hash, pol_round, was_processed in cursor.fetchall():
            message = Message(type_, height_, round_, sender, block_hash, pol_round)
            (processed if was_processed else fresh).append(message)
    return processed, fresh


def proposal_wire(proposed: ProposedBlock) -> dict:
    """A proposed block as peers receive it: the header, the transactions' hashes in block
    order, and the bodies it carries (none from the proposer: every validator's mempool
    has them by gossip, and a site missing some asks for them)."""
    return {"header": proposed.header, "tx_hashes": proposed.tx_hashes, "txs": proposed.txs}


def consensus_prune() -> None:
    """Forget the messages and proposed blocks of decided heights (beat's tick: off the path of a step),
    and the proposed blocks of the next height that do not extend the head (kept while it was
    the height after next, under a previous hash that did not come to be)."""
    head = ChainHead.objects.only("height", "block_hash").get()
    ConsensusMessage.objects.filter(height__lte=head.height).delete()
    ProposedBlock.objects.filter(height__lte=head.height).delete()
    stale = ProposedBlock.objects.filter(height=head.height + 1).exclude(
        header__previous_hash=head.block_hash
    )
    stale.delete()


def proposed_blocks_to_relay(*, height: int, previous_hash: str) -> list[ProposedBlock]:
    """The proposed blocks of ``height`` a stalled site resends: those that extend our head and
    that we did not find invalid (all of them passed intake's rules when they were stored)."""
    relayed = ProposedBlock.objects.filter(
        height=height, header__previous_hash=previous_hash, verdict__in=["", "valid"]
    )
    return list(relayed.order_by("hash")[:MAX_RELAYED_BLOCKS])
