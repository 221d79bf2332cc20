"""The decided block, written with its commit certificate: the deciding precommits."""

from django.db import transaction

from chain import task_queue
from chain.consensus.machine import PRECOMMIT, HeightMachine, RoundState, ValidatorSet
from chain.models import Block, ChainHead, ConsensusMessage
from chain.services.blocks.write import block_write
from chain.services.consensus.proposals import executed_blocks, proposal_valid


def decided_block_commit(
    head: ChainHead, validators: ValidatorSet, state: RoundState, machine: HeightMachine
) -> Block:
    """Write the block ``state`` decided, reusing its execution when the head is still the one it
    ran on; its certificate is the precommits of the deciding round, in validator order."""
    block_hash, round = state.decided, state.decided_round
    built = executed_blocks.get(head.block_hash, block_hash)
    if built is None:
        if proposal_valid(head, validators, block_hash) is not True:
            raise RuntimeError(f"Decided block {block_hash} cannot be executed here.")
        built = executed_blocks.get(head.block_hash, block_hash)
    signatures = {
        (m.sender, m.round): m.signature
        for m in ConsensusMessage.objects.filter(
            height=state.height, type=PRECOMMIT, block_hash=block_hash, round=round
        )
    }
    certificate = [
        {"validator": vote.sender, "round": vote.round, "signature": signatures[(vote.sender, vote.round)]}
        for vote in sorted(machine.precommits_for(round, block_hash), key=lambda v: v.sender)
    ]
    block = block_write(head, built, certificate)
    if block.proposer == machine.me:
        # Its proposer pushes it to the followers, after commit and outside the consensus lock.
        transaction.on_commit(lambda: task_queue.followers_push_soon(block.height))
    return block
