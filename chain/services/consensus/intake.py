"""What peers send: their verified consensus messages and proposed blocks, kept for the next step.

Each message is stored once, each proposed block only with its proposer's signed
proposal; what lies outside the windows below is not kept at all.
"""

from chain.consensus.machine import PROPOSAL, Message
from chain.ledger.block import BlockHeader, header_from_wire
from chain.ledger.encoding import merkle_root
from chain.ledger.errors import LedgerError
from chain.ledger.keys import is_address
from chain.ledger.tx import parse_transaction
from chain.ledger.validators import proposer_for
from chain.models import ConsensusMessage, ProposedBlock
from chain.selectors import proposer_weights_at
from chain.services.consensus.stored import stored_message
from chain.store import binary_cursor

#: Heights above the head whose messages and proposed blocks a site keeps: the next one,
#: and the one after it, which a peer that committed first may already be on. Anything
#: higher only tells us a peer is ahead (a sync starts); nothing of it is stored.
HEIGHT_WINDOW = 2
#: Rounds above the one this site is in (at the height after next: above round 0) whose
#: messages it keeps. Enough for rule 55 to move a site that lags a few rounds behind;
#: a site further behind moves up a window at each resend. Without it one validator
#: could store three messages for each of 10,000 rounds, and every step reads them all.
ROUND_WINDOW = 16
#: Distinct values kept per (height, round, type, sender): two are evidence of double
#: signing, a third proves nothing more and would only fill the table.
VALUES_PER_VOTE = 2
#: Proposed blocks kept per (height, header round, proposer): a proposer that signs more
#: than two blocks for one round has already given the evidence. Counted per proposer so
#: that a validator free to propose for the height after next (its draw is not known yet)
#: cannot fill the slots of the proposer the draw will name.
BLOCKS_PER_ROUND = 2
#: Transaction bodies a proposed block may carry (the proposer carries none: receivers
#: hold them by gossip or look them up).
MAX_CARRIED_TXS = 500

BAD_BLOCK = "bad_block"
NO_PROPOSAL = "no_proposal"


def peer_messages_store(
    messages: list[tuple[Message, str]],
    blocks: list,
    *,
    chain_id: str,
    head_height: int,
    head_round: int,
    head_hash: str,
    head_state_root: str,
    max_block_txs: int,
) -> dict:
    """Keep verified peer messages (and proposed blocks) for the next step; say what was new.

    The caller checked each message's sender (an active validator) and
    signature (chain.consensus.messages) and read the head. Messages for heights
    already decided here mark the sender as behind; those above
    ``HEIGHT_WINDOW`` only count as ``ahead``; those of rounds more than
    ``ROUND_WINDOW`` above ``head_round`` (this site's round at the next height)
    are not kept. A proposed block is kept only with its proposer's signed
    proposal, kept with it or before (``_proposed_block_check``). Peers send
    several of these a height each: the messages go in one statement, and one
    that is already here is skipped, not an error.
    """
    behind, ahead, rows, seen, proposals = set(), 0, [], {}, []
    for message, signature in messages:
        if message.height <= head_height:
            behind.add(message.sender)
            continue
        if message.height > head_height + 1:
            ahead += 1
        if message.height > head_height + HEIGHT_WINDOW:
            continue
        if message.round > (head_round if message.height == head_height + 1 else 0) + ROUND_WINDOW:
            continue
        vote = (message.height, message.round, message.type, message.sender)
        values = seen.setdefault(vote, set())
        if message.block_hash in values or len(values) >= VALUES_PER_VOTE:
            continue  # a repeat, or a third value: nothing the step needs
        values.add(message.block_hash)
        rows.append((*vote, message.block_hash, message.pol_round, signature))
        if message.type == PROPOSAL:
            proposals.append(message)
    checked = [
        _proposed_block_check(
            chain_id, head_height, head_hash, head_state_root, max_block_txs, body, proposals
        )
        for body in blocks
    ]
    # Blocks first: a step that sees a proposal (each statement commits on its own) must find
    # its block, or it prevotes nil for want of it (a failed round, found under load).
    for block in checked:
        if block is not None:
            _proposed_block_insert(block)
    stored = _messages_insert(rows) if rows else 0
    return {"stored": stored, "ahead": ahead, "behind": sorted(behind), "height": head_height}


def _messages_insert(rows: list[tuple]) -> int:
    """Insert peer messages not held yet, in one statement; how many were new.

    A (height, round, type, sender) holds at most VALUES_PER_VOTE values, counting
    those stored and the new ones earlier in ``rows`` (which holds each value once):
    an equivocating validator cannot fill the table.
    """
    columns = [list(column) for column in zip(*rows, strict=True)]
    with binary_cursor() as cursor:  # each column one array, bound on the server, as admission's insert
        cursor.execute(
            "INSERT INTO chain_consensusmessage "
            "(height, round, type, sender, block_hash, pol_round, signature, processed, received_at) "
            "SELECT h, r, t, s, b, p, sig, false, now() FROM ("
            "  SELECT v.*,"
            "    count(*) FILTER (WHERE NOT held) OVER (PARTITION BY h, r, t, s ORDER BY ord) AS nth"
            "  FROM ("
            "    SELECT u.*,"
            "      (SELECT count(*) FROM chain_consensusmessage m"
            "        WHERE m.height = u.h AND m.round = u.r AND m.type = u.t AND m.sender = u.s) AS held_n,"
            "      EXISTS (SELECT 1 FROM chain_consensusmessage m WHERE m.height = u.h AND m.round = u.r"
            "        AND m.type = u.t AND m.sender = u.s AND m.block_hash = u.b) AS held"
            "    FROM unnest(%b::bigint[], %b::int[], %b::text[], %b::text[], %b::text[], %b::int[],"
            "      %b::text[])"
            "      WITH ORDINALITY AS u(h, r, t, s, b, p, sig, ord)"
            "  ) v"
            ") w "
            "WHERE NOT held AND held_n + nth <= %b::int "
            "ORDER BY ord "
            "ON CONFLICT DO NOTHING RETURNING id",
            [*columns, VALUES_PER_VOTE],
        )
        return len(cursor.fetchall())


def _proposed_block_check(
    chain_id: str,
    head_height: int,
    head_hash: str,
    head_state_root: str,
    max_block_txs: int,
    body,
    proposals: list[Message],
) -> ProposedBlock | None:
    """The proposed block to keep, None when it is not for a height we keep, or LedgerError.

    Kept only when all hold: its form and size caps; its header's chain id and
    a height in the window; its transactions' hashes are those the header's
    merkle root commits to; every carried body is a well-formed, signed
    transaction of this chain whose hash it claims; and a proposal for it (in
    this request, or stored) is signed by the proposer of that height and round,
    chosen as consensus chooses, in a round no earlier than the header's, whose
    proposer the header names. For the height after next the draw is not known
    yet (it weighs the blocks each region proposed, which the next block
    changes): the proposal's signer and the header's proposer need only be
    validators drawn at our head, and a block that the real draw does not name
    is refused when its height comes, as any invalid block. Before, a site one
    block behind the others refused their next proposal with the whole request
    (its votes too) for a wrong draw, and caught up only when the height stalled.
    """
    if type(body) is not dict or set(body) - {"header", "tx_hashes", "txs"}:
        raise LedgerError(BAD_BLOCK, "A proposed block is {header, tx_hashes, txs}.")
    header, tx_hashes, txs = body.get("header"), body.get("tx_hashes"), body.get("txs", [])
    if type(header) is not dict or type(tx_hashes) is not list or type(txs) is not list:
        raise LedgerError(BAD_BLOCK, "A proposed block is {header, tx_hashes, txs}.")
    if len(tx_hashes) > max_block_txs or len(txs) > min(len(tx_hashes), MAX_CARRIED_TXS):
        raise LedgerError(
            BAD_BLOCK,
            "A block holds at most %(most)s transactions and carries %(carried)s.",
            {"most": max_block_txs, "carried": MAX_CARRIED_TXS},
        )
    if not all(is_address(h) for h in tx_hashes) or len(set(tx_hashes)) != len(tx_hashes):
        raise LedgerError(BAD_BLOCK, "tx_hashes are distinct hashes of 64 lower-case hex digits.")
    try:
        block = header_from_wire(header)
    except LedgerError as exc:
        raise LedgerError(BAD_BLOCK, exc.message) from exc
    block_hash = block.hash
    if block.chain_id != chain_id:
        raise LedgerError(BAD_BLOCK, "The header's chain_id is not %(chain_id)s.", {"chain_id": chain_id})
    if not head_height < block.height <= head_height + HEIGHT_WINDOW:
        return None  # decided already, or too far ahead to keep
    if block.tx_count != len(tx_hashes) or block.merkle_root != merkle_root(tx_hashes):
        raise LedgerError(BAD_BLOCK, "tx_hashes are not the transactions the header commits to.")
    weights = proposer_weights_at(head_hash, head_state_root)
    if block.height == head_height + 1:

        def proposes(key: str, round: int) -> bool:
            return key == proposer_for(weights, head_hash, round)

    elif is_address(block.previous_hash):
        # The draw of the height after next weighs the blocks each region proposed, which the
        # next block changes: it is not known here yet. Any validator drawn today may propose;
        # the height's own check (block_check) holds the block to the real draw.
        def proposes(key: str, round: int) -> bool:
            return key in weights

    else:
        raise LedgerError(BAD_BLOCK, "The header's previous_hash is malformed.")
    proposal = _proposal_of(block, block_hash, proposals, proposes)
    if proposal is None or not proposes(block.proposer, block.round):
        raise LedgerError(
            NO_PROPOSAL, "A proposed block comes with the signed proposal of its height and round's proposer."
        )
    carried = _carried_transactions(chain_id, txs, set(tx_hashes))
    return ProposedBlock(
        hash=block_hash,
        height=block.height,
        header=header,
        tx_hashes=tx_hashes,
        txs=carried,
        verdict="",
    )


def _proposal_of(block: BlockHeader, block_hash: str, proposals: list[Message], proposes) -> Message | None:
    """A verified proposal of ``block_hash`` by the proposer of its round (``proposes(key,
    round)``), in a round no earlier than the block's: one of the request's kept ones, else one
    stored (every stored message was verified on arrival)."""

    def by_proposer(message: Message) -> bool:
        return message.round >= block.round and proposes(message.sender, message.round)

    for message in proposals:
        if (message.height, message.block_hash) == (block.height, block_hash) and by_proposer(message):
            return message
    stored = ConsensusMessage.objects.filter(
        height=block.height, type=PROPOSAL, block_hash=block_hash, round__gte=block.round
    )
    return next((m for m in map(stored_message, stored[:64]) if by_proposer(m)), None)


def _carried_transactions(chain_id: str, wires: list, tx_hashes: set[str]) -> list[dict]:
    """The carried bodies, each a signed transaction of this chain whose hash the block lists."""
    seen = set()
    for wire in wires:
        tx = parse_transaction(wire)  # LedgerError names what is wrong with it
        if tx.chain_id != chain_id or tx.hash not in tx_hashes or tx.hash in seen:
            raise LedgerError(BAD_BLOCK, "A carried transaction is not one of the block's, or is repeated.")
        if not tx.signature_valid():
            raise LedgerError(BAD_BLOCK, "A carried transaction's signature does not match its sender.")
        seen.add(tx.hash)
    return wires


def _proposed_block_insert(block: ProposedBlock) -> None:
    """Keep a checked proposed block, unless its proposer has BLOCKS_PER_ROUND others in its round."""
    same_slot = ProposedBlock.objects.filter(
        height=block.height, header__round=block.header["round"], header__proposer=block.header["proposer"]
    )
    if same_slot.exclude(hash=block.hash).count() >= BLOCKS_PER_ROUND:
        return
    ProposedBlock.objects.bulk_create([block], ignore_conflicts=True)  # a block we hold is kept as it is
