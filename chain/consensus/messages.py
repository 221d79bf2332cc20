"""Consensus messages between sites: canonical bytes, signing, and checking what a peer sent.

Every message signs ``chain.ledger.block.vote_bytes``: VOTE_DOMAIN +
canonical_json({block_hash, chain_id, height, round, type}), and a proposal also
its ``pol_round``. The commit certificate's precommits are those same bytes, so
the precommits that decided a block are its certificate as they are.
"""

from chain.ledger.block import vote_bytes
from chain.ledger.errors import LedgerError
from chain.ledger.fields import MAX_ROUND
from chain.ledger.keys import address_of, is_address, sign, verify

from .machine import NIL, PRECOMMIT, PREVOTE, PROPOSAL, Message

BAD_MESSAGE = "bad_message"
NOT_A_VALIDATOR = "not_a_validator"
TYPES = (PROPOSAL, PREVOTE, PRECOMMIT)


def message_bytes(chain_id: str, message: Message) -> bytes:
    return vote_bytes(
        chain_id=chain_id,
        height=message.height,
        round=message.round,
        vote_type=message.type,
        block_hash=message.block_hash,
        pol_round=message.pol_round if message.type == PROPOSAL else None,
    )


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
        raise LedgerError(
            BAD_MESSAGE,
            "%(name)s must be an integer in [%(low)s, %(high)s].",
            {"name": name, "low": low, "high": high},
        )
    return value


Validators = frozenset[str] | set[str]


def message_parse(wire, chain_id: str, validators: Validators | None = None) -> tuple[Message, str]:
    """A peer's message and its (unchecked) signature, or LedgerError saying what is wrong with it.

    Cheap checks only: the form of every field, the chain id, and, given
    ``validators``, that the sender is one. A caller checks a whole batch this
    way before it verifies any signature (``message_verify``), so a stranger's
    batch costs no signature work.
    """
    if not isinstance(wire, dict):
        raise LedgerError(BAD_MESSAGE, "A message is a JSON object.")
    if wire.get("chain_id", chain_id) != chain_id:
        raise LedgerError(BAD_MESSAGE, "chain_id is not %(chain_id)s.", {"chain_id": chain_id})
    kind = wire.get("type")
    if type(kind) is not str or kind not in TYPES:
        raise LedgerError(BAD_MESSAGE, "type must be one of %(types)s.", {"types": ", ".join(TYPES)})
    sender, block_hash = wire.get("sender"), wire.get("block_hash")
    if not is_address(sender):
        raise LedgerError(BAD_MESSAGE, "sender must be a validator's public key.")
    if validators is not None and sender not in validators:
        raise LedgerError(NOT_A_VALIDATOR, "The sender is not an active validator.")
    if not isinstance(block_hash, str) or not (block_hash == NIL or is_address(block_hash)):
        raise LedgerError(BAD_MESSAGE, "block_hash must be a block hash, or empty for nil.")
    if kind == PROPOSAL and block_hash == NIL:
        raise LedgerError(BAD_MESSAGE, "A proposal names a block.")
    message = Message(
        kind,
        _int(wire, "height", 1, 2**53 - 1),
        _int(wire, "round", 0, MAX_ROUND),
        sender,
        block_hash,
        _int(wire, "pol_round", -1, MAX_ROUND) if kind == PROPOSAL else -1,
    )
    signature = wire.get("signature")
    if not isinstance(signature, str):
        raise LedgerError(BAD_MESSAGE, "signature must be 128 hex characters.")
    return message, signature


def message_verify(chain_id: str, message: Message, signature: str) -> None:
    """LedgerError unless ``signature`` is the sender's over the message: one ed25519 verify."""
    if not verify(message.sender, message_bytes(chain_id, message), signature):
        raise LedgerError(BAD_MESSAGE, "The signature does not match the sender.")


def parse_message(wire, chain_id: str, validators: Validators | None = None) -> tuple[Message, str]:
    """A peer's message and its verified signature (the sender checked against ``validators`` first)."""
    message, signature = message_parse(wire, chain_id, validators)
    message_verify(chain_id, message, signature)
    return message, signature
