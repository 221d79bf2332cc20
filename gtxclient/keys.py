"""ed25519 keys and addresses (docs/PROTOCOL.md §4), with PyNaCl."""

import hashlib
import re

from nacl.signing import SigningKey

_HEX_SEED = re.compile(r"[0-9a-f]{64}")


class Key:
    """A private key (a 32-byte ed25519 seed) and the address it signs for."""

    def __init__(self, seed: bytes):
        if type(seed) is not bytes or len(seed) != 32:
            raise ValueError("An ed25519 seed is exactly 32 bytes.")
        self._signing_key = SigningKey(seed)
        #: The account's address: its public key as 64 lowercase hex characters.
        self.address = self._signing_key.verify_key.encode().hex()

    @classmethod
    def from_hex(cls, seed_hex: str) -> "Key":
        """From the seed as 64 lowercase hex characters, exactly (no whitespace, no upper case)."""
        if type(seed_hex) is not str or not _HEX_SEED.fullmatch(seed_hex):
            raise ValueError("A seed in hex is exactly 64 lowercase hex characters.")
        return cls(bytes.fromhex(seed_hex))

    @classmethod
    def generate(cls) -> "Key":
        """A new random key (keep its ``seed_hex`` secret and safe)."""
        return cls(bytes(SigningKey.generate()))

    @classmethod
    def demo(cls, name: str) -> "Key":
        """A demo network's key: seed = sha256("gridtokenx-demo/" + name), public, never for real value
        (docs/PROTOCOL.md §13)."""
        return cls(hashlib.sha256(b"gridtokenx-demo/" + name.encode()).digest())

    @property
    def seed_hex(self) -> str:
        return bytes(self._signing_key).hex()

    def sign(self, message: bytes) -> str:
        """The ed25519 signature of ``message`` itself (not of a hash), as 128 lowercase hex."""
        return self._signing_key.sign(message).signature.hex()

    def __repr__(self) -> str:  # never the seed
        return f"Key(address={self.address[:16]}…)"
