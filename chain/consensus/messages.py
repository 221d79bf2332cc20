"""Consensus messages between sites: canonical bytes, signing, and checking what a peer sent.

A vote signs VOTE_DOMAIN + canonical_json({block_hash, chain_id, height,
round, type}); a proposal also signs its ``pol_round``. A precommit's bytes are
exactly those of ``chain.ledger.block.precommit_bytes``, so the precommits
that decided a block are its commit certificate as they are.
"""

from chain.ledger.encoding import VOTE_DOMAIN, canonical_json
from chain.ledger.errors import LedgerError
from chain.ledger.keys import address_of, is_address, sign, verify

from .machine import NIL, PRECOMMIT, PREVOTE, PROPOSAL, Message

BAD_MESSAGE = "bad_message"
TYPES = (PROPOSAL, PREVOTE, PRECOMMIT)


def message_bytes(chain_id: str, message: Message) -> bytes:
    body = {
        "chain_id": chain_id,
        "height": message.height,
        "round": message.round,
        "type": message.type,
        "block_hash": message.block_hash,
    }
    if message.type == PROPOSAL:
        body["pol_round"] = message.pol_round
    return VOTE_DOMAIN + canonical_json(body)


def sign_message(key, chain_id: str, message: Message) -> dict:
    """The wire form of one of our own messages."""
    assert message.sender == address_of(key)
    return {**message_wire(message), "signature": sign(key, message_bytes(chain_id, message))}


def message_wire(message: Message) -> dict:
    return {
        "type": message.type,
        "height": message.height,
        "round": message.round,
        "sender": message.sender,
        "block_hash": message.block_hash,
        "pol_round": message.pol_round,
    }


def _int(wire: dict, name: str, low: int, high: int) -> int:
    value = wire.get(name)
    if type(value) is not int or not low <= value <= high:
        raise LedgerError(BAD_MESSAGE, f"{name} must be an integer in [{low}, {high}].")
    return value


def parse_message(wire, chain_id: str) -> tuple[Message, str]:
    """A peer's message and its signature, or LedgerError saying what is wrong with it."""
    if not isinstance(wire, dict):
        raise LedgerError(BAD_MESSAGE, "A message is a JSON object.")
    if wire.get("chain_id", chain_id) != chain_id:
        raise LedgerError(BAD_MESSAGE, f"chain_id is not {chain_id}.")
    kind = wire.get("type")
    if kind not in TYPES:
        raise LedgerError(BAD_MESSAGE, f"type must be one of {', '.join(TYPES)}.")
    sender, block_hash = wire.get("sender"), wire.get("block_hash")
    if not is_address(sender):
        raise LedgerError(BAD_MESSAGE, "sender must be a validator's public key.")
    if not isinstance(block_hash, str) or not (block_hash == NIL or is_address(block_hash)):
        raise LedgerError(BAD_MESSAGE, "block_hash must be a block hash, or empty for nil.")
    if kind == PROPOSAL and block_hash == NIL:
        raise LedgerError(BAD_MESSAGE, "A proposal names a block.")
    message = Message(
        kind,
        _int(wire, "height", 1, 2**53 - 1),
        _int(wire, "round", 0, 10_000),
        sender,
        block_hash,
        _int(wire, "pol_round", -1, 10_000) if kind == PROPOSAL else -1,
    )
    signature = wire.get("signature")
    if not isinstance(signature, str) or not verify(sender, message_bytes(chain_id, message), signature):
        raise LedgerError(BAD_MESSAGE, "The signature does not match the sender.")
    return message, signature
