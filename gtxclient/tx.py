"""Transactions: the signed fields, signing bytes, hash and wire form (docs/PROTOCOL.md §5)."""

import hashlib
from dataclasses import dataclass

from .encoding import TX_DOMAIN, canonical_json
from .keys import Key


@dataclass(frozen=True)
class Transaction:
    chain_id: str
    sender: str
    nonce: int
    kind: str
    payload: dict
    signature: str

    def unsigned(self) -> dict:
        """The five signed fields."""
        return {
            "chain_id": self.chain_id,
            "kind": self.kind,
            "nonce": self.nonce,
            "payload": self.payload,
            "sender": self.sender,
        }

    @property
    def signing_bytes(self) -> bytes:
        return signing_bytes(self.unsigned())

    @property
    def hash(self) -> str:
        """sha256 of the signing bytes: the transaction's id everywhere (it does not cover the signature)."""
        return hashlib.sha256(self.signing_bytes).hexdigest()

    def wire(self) -> dict:
        """What is POSTed: exactly the six fields."""
        return {**self.unsigned(), "signature": self.signature}


def signing_bytes(unsigned: dict) -> bytes:
    return TX_DOMAIN + canonical_json(unsigned)


def sign_transaction(key: Key, *, chain_id: str, nonce: int, kind: str, payload: dict) -> Transaction:
    """A transaction of ``key``'s account, signed."""
    unsigned = {"chain_id": chain_id, "kind": kind, "nonce": nonce, "payload": payload, "sender": key.address}
    return Transaction(
        chain_id=chain_id,
        sender=key.address,
        nonce=nonce,
        kind=kind,
        payload=payload,
        signature=key.sign(signing_bytes(unsigned)),
    )
