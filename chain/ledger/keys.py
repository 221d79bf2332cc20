"""ed25519 keys and signatures (PyNaCl). Addresses are hex public keys."""

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from .fields import is_hex64, is_signature_hex


def is_address(value) -> bool:
    """Exactly 64 lower-case hex characters (chain.ledger.fields): nothing before, after or between."""
    return is_hex64(value)


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
    if not is_address(address) or not is_signature_hex(signature_hex):
        return False
    try:
        VerifyKey(bytes.fromhex(address)).verify(message, bytes.fromhex(signature_hex))
    except (BadSignatureError, ValueError):
        return False
    return True
