"""What a site keeps of a height: the consensus messages and proposed blocks it stored,
read as the machine and the peers take them, and forgotten once the height is decided."""

from chain.consensus.machine import Message
from chain.models import ChainHead, ConsensusMessage, ProposedBlock

#: Proposed blocks a resend carries (the peer protocol's per-request cap).
MAX_RELAYED_BLOCKS = 10


def stored_message(row: ConsensusMessage) -> Message:
    return Message(row.type, row.height, row.round, row.sender, row.block_hash, row.pol_round)


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
