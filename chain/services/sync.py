"""Catching up: blocks fetched from a peer are checked like proposals and their certificates verified.

A block is applied only if its header follows our head, its commit
certificate holds precommits signed for that header by more than 2/3 of the
active stake with an authority among them (under our own copy of the
validator set), and re-executing its transactions gives its energy metadata;
the next block's header then confirms our state root. Nothing is trusted
because of who sent it.

A follower (a registered site that does not vote) takes every block this way:
the blocks validators push to it after they commit (``blocks_follow``) and the
ones it pulls at beat's tick or when a push leaves a gap (``sync_from_peers``).
"""

import logging
from dataclasses import asdict

from django.db import connection, transaction

from chain.consensus import transport
from chain.ledger.block import BlockHeader, header_from_wire, precommit_valid
from chain.ledger.errors import LedgerError
from chain.ledger.tx import parse_transaction
from chain.models import Block, ChainHead, ChainTx
from chain.peers import follower_urls, peer_urls
from chain.selectors import validator_set
from chain.services.blocks.check import block_check
from chain.services.blocks.write import block_write
from chain.services.consensus.step import CONSENSUS_LOCK

log = logging.getLogger(__name__)

BAD_CERTIFICATE = "bad_certificate"
BAD_BLOCK = "bad_block"
PRECOMMIT_FIELDS = frozenset({"validator", "signature", "round"})
SYNC_BATCH = 20


def blocks_for_peer(first_height: int, limit: int) -> list[dict]:
    """Stored blocks from ``first_height`` on: header, certificate and transactions (wire form)."""
    head = ChainHead.objects.only("chain_id").get()
    blocks = list(Block.objects.filter(height__gte=first_height).order_by("height")[:limit])
    txs: dict[int, list[dict]] = {}
    for t in ChainTx.objects.filter(block__in=[b.height for b in blocks]).order_by("block_id", "position"):
        txs.setdefault(t.block_id, []).append(
            {
                "chain_id": head.chain_id,
                "sender": t.sender,
                "nonce": t.nonce,
                "kind": t.kind,
                "payload": t.payload,
                "signature": t.signature,
            }
        )
    return [
        {
            "header": asdict(b.header(head.chain_id)),
            "commit_certificate": b.commit_certificate,
            "txs": txs.get(b.height, []),
        }
        for b in blocks
    ]


def certificate_check(head: ChainHead, header: BlockHeader, certificate) -> None:
    """More than 2/3 of the stake, an authority among them, every signature for this header."""
    validators = validator_set(head)
    if not isinstance(certificate, list) or not certificate:
        raise LedgerError(BAD_CERTIFICATE, "The block has no commit certificate.")
    # Only what the block row keeps: one precommit per active validator, of exactly its
    # fields, checked before any signature (a certificate is stored as it came).
    if len(certificate) > len(validators.power) or any(
        type(p) is not dict or not set(p) <= PRECOMMIT_FIELDS or p.get("validator") not in validators.power
        for p in certificate
    ):
        raise LedgerError(BAD_CERTIFICATE, "A certificate holds one precommit per active validator.")
    if len({p["validator"] for p in certificate}) != len(certificate):
        raise LedgerError(BAD_CERTIFICATE, "A validator precommits once in a certificate.")
    voters = set()
    for precommit in certificate:
        if not precommit_valid(header, precommit):
            raise LedgerError(BAD_CERTIFICATE, "A precommit of the certificate is not signed for this block.")
        voters.add(precommit["validator"])
    if not validators.commit_quorum(voters):
        raise LedgerError(
            BAD_CERTIFICATE, "The certificate lacks 2/3 of the stake or an authority precommit."
        )


def block_apply(body: dict) -> Block | None:
    """Apply one fetched block on top of our head; None when we already have its height."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CONSENSUS_LOCK])
        head = ChainHead.objects.select_for_update().get()
        if type(body) is not dict or type(body.get("txs")) is not list:
            raise LedgerError(BAD_BLOCK, "A block is {header, commit_certificate, txs}.")
        if len(body["txs"]) > head.params["max_block_txs"]:
            raise LedgerError(BAD_BLOCK, "The block holds more transactions than a block may.")
        header = header_from_wire(body.get("header"))
        txs = [parse_transaction(wire) for wire in body["txs"]]
        if header.height <= head.height:
            return None
        certificate_check(head, header, body.get("commit_certificate"))
        validators = validator_set(head)
        built = block_check(head, header, txs, expected_proposer=validators.proposer)
        return block_write(head, built, body["commit_certificate"])


def sync_from_peers() -> int:
    """Fetch and apply blocks from whichever peer is furthest ahead; the number applied."""
    head = ChainHead.objects.only("height").get()
    best_url, best_height, best_timestamp_ms = None, head.height, None
    for url in peer_urls().values():
        status = transport.get_json(url, "/peer/v1/status/") or {}
        height, timestamp_ms = status.get("height"), status.get("timestamp_ms")
        if type(height) is int and height > best_height:
            best_url, best_height = url, height
            best_timestamp_ms = timestamp_ms if type(timestamp_ms) is int else None
    if best_url is None:
        return 0
    if best_timestamp_ms is not None:
        transport.validators_head_heard(best_height, best_timestamp_ms)
    applied = 0
    while True:
        height = ChainHead.objects.only("height").get().height
        if height >= best_height:
            return applied
        reply = transport.get_json(best_url, "/peer/v1/blocks/", {"from": height + 1, "limit": SYNC_BATCH})
        blocks = (reply or {}).get("blocks")
        if type(blocks) is not list or not blocks:  # a peer's answer is input like any other
            return applied
        for body in blocks[:SYNC_BATCH]:
            try:
                if block_apply(body) is not None:
                    applied += 1
            except LedgerError as exc:
                log.warning("Block from %s refused: %s", best_url, exc.message)
                return applied


def followers_push(height: int) -> int:
    """Send the committed block at ``height``, with its certificate, to every registered
    follower at once; how many took it (a follower that is down pulls when it is back)."""
    urls = sorted(set(follower_urls().values()))
    blocks = blocks_for_peer(height, 1) if urls else []
    if not blocks:
        return 0
    body = {"chain_id": ChainHead.objects.only("chain_id").get().chain_id, "blocks": blocks}
    return sum(code == 200 for code in transport.post_to_all(urls, "/peer/v1/follow/", body).values())


def blocks_follow(bodies: list) -> int:
    """Apply blocks a validator pushed (``blocks_for_peer``'s form), in height order; the number
    applied. A gap before them (a push lost, or this follower behind) or a block refused
    pulls from the validators instead: every block is still checked as ``block_apply`` does.
    """
    applied = 0
    for body in sorted(bodies, key=lambda b: b["header"]["height"]):
        header = body["header"]
        timestamp_ms = header.get("timestamp_ms")
        if type(timestamp_ms) is int:
            transport.validators_head_heard(header["height"], timestamp_ms)
        height = ChainHead.objects.only("height").get().height
        if header["height"] <= height:
            continue
        if header["height"] > height + 1:
            return applied + sync_from_peers()
        try:
            if block_apply(body) is not None:
                applied += 1
        except LedgerError as exc:
            log.warning("Pushed block %s refused: %s", header["height"], exc.message)
            return applied + sync_from_peers()
    return applied
