"""ed25519 keys and signatures (PyNaCl). Addresses are hex public keys."""

import re

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

ADDRESS_RE = re.compile(r"^[0-9a-f]{64}$")
SIGNATURE_RE = re.compile(r"^[0-9a-f]{128}$")


def is_address(value) -> bool:
    return isinstance(value, str) and ADDRESS_RE.match(value) is not None


def new_signing_key() -> SigningKey:
    return SigningKey.generate()


def signing_key_from_seed(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def address_of(key: SigningKey) -> str:
    return key.verify_key.encode().hex()


def sign(key: SigningKey, message: bytes) -> str:
    return key.sign(message).signature.hex()


def verify(address: str, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is ``address``'s ed25519 signature of ``message``."""
    if not is_address(address) or not isinstance(signature_hex, str):
        return False
    if not SIGNATURE_RE.match(signature_hex):
        return False
    try:
        VerifyKey(bytes.fromhex(address)).verify(message, bytes.fromhex(signature_hex))
    except (BadSignatureError, ValueError):
        return False
    return True
