"""Encrypted wallet-key backups: export a custodial key under a passphrase, import it at any site.

The file is a small JSON document (docs/SECURITY.md, "Wallet key backups"):

    {"format": "gridtokenx-wallet-backup", "version": 1, "address": "<64 hex>",
     "kdf": {"name": "argon2id", "opslimit": 3, "memlimit": 67108864, "salt": "<32 hex>"},
     "cipher": {"name": "xchacha20poly1305-ietf", "nonce": "<48 hex>", "ciphertext": "<96 hex>"}}

The key is libsodium's argon2id of the passphrase (PyNaCl ``nacl.pwhash.argon2id.kdf``); the
plaintext is the 32-byte ed25519 seed, sealed with XChaCha20-Poly1305 and the address as
associated data, so a file whose address was edited does not open. An import reads only a
file of at most MAX_BACKUP_BYTES whose every field has its exact form, and runs the KDF only
with parameters inside KDF_BOUNDS: a crafted file cannot make the site spend more than one
export's worth of CPU and memory. Each attempt holds one of the site's password-hash places
and counts against the person's GTX_KEY_BACKUP_RATE before anything is hashed.
"""

import json
import re

from django.conf import settings
from django.db import IntegrityError, transaction
from nacl import pwhash
from nacl.exceptions import CryptoError
from nacl.secret import Aead
from nacl.utils import random

from chain.client_address import client_ip
from chain.ledger.errors import LedgerError, Refused, ledger_text
from chain.ledger.keys import address_of, is_address, signing_key_from_seed
from chain.ledger.wire import json_decode
from chain.models import Account, Custody, HeldTx, MempoolTx, Wallet, WalletKeyEvent
from chain.services.accounts import TooManyAttempts, password_hash_slot
from chain.services.rate_limits import rate_parse, window_hit
from chain.services.wallets import seal_key_version, wallet_key_open, wallet_key_seal

FORMAT = "gridtokenx-wallet-backup"
VERSION = 1
KDF_NAME = "argon2id"
CIPHER_NAME = "xchacha20poly1305-ietf"
#: What an export uses: libsodium's "moderate" passes with 64 MiB (about 0.3 s on one core).
EXPORT_OPSLIMIT = 3
EXPORT_MEMLIMIT = 64 * 1024 * 1024
#: What an import accepts: inclusive ranges. The upper ends bound the work a file can ask for.
KDF_BOUNDS = {"opslimit": (1, 4), "memlimit": (8 * 1024 * 1024, 128 * 1024 * 1024)}
MAX_BACKUP_BYTES = 2048
SEED_BYTES = 32
SALT_BYTES = pwhash.argon2id.SALTBYTES  # 16
NONCE_BYTES = Aead.NONCE_SIZE  # 24
CIPHERTEXT_BYTES = SEED_BYTES + Aead.MACBYTES  # 48
MAX_PASSPHRASE_CHARS = 1024
MIN_PASSPHRASE_CHARS = 12
ASSOCIATED_DATA = b"GRIDTOKENX/WALLET-BACKUP/V1\n"

# Refusal codes (the tests import them); each Refused names its form field where one is at fault.
WRONG_PASSWORD = "wrong_password"  # noqa: S105 (an error code)
WRONG_PASSPHRASE = "wrong_passphrase"  # noqa: S105
WEAK_PASSPHRASE = "weak_passphrase"  # noqa: S105
BAD_BACKUP = "bad_backup"
TOO_LARGE = "backup_too_large"
ADDRESS_TAKEN = "address_taken"
ALREADY_YOURS = "already_yours"
WALLET_IN_USE = "wallet_in_use"
NO_KEY_HERE = "no_key_here"
TOO_MANY = "too_many_attempts"

_HEX = re.compile(r"[0-9a-f]+")


def _hex_field(value, size: int, name: str) -> bytes:
    if type(value) is not str or len(value) != 2 * size or not _HEX.fullmatch(value):
        raise Refused(
            BAD_BACKUP,
            ledger_text(
                "The file's %(name)s must be %(count)s lowercase hex characters.", name=name, count=2 * size
            ),
            "backup",
        )
    return bytes.fromhex(value)


def _exact_keys(value, keys: set[str], where: str) -> dict:
    if type(value) is not dict or set(value) != keys:
        raise Refused(
            BAD_BACKUP,
            ledger_text(
                "The file's %(where)s must have exactly: %(keys)s.", where=where, keys=", ".join(sorted(keys))
            ),
            "backup",
        )
    return value


def _associated_data(address: str) -> bytes:
    return ASSOCIATED_DATA + address.encode("ascii")


def _derive(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return pwhash.argon2id.kdf(
        Aead.KEY_SIZE, passphrase.encode("utf-8"), salt, opslimit=opslimit, memlimit=memlimit
    )


def backup_encode(*, seed: bytes, address: str, passphrase: str) -> bytes:
    """The backup file of ``seed`` (whose public key is ``address``) under ``passphrase``."""
    salt, nonce = random(SALT_BYTES), random(NONCE_BYTES)
    key = _derive(passphrase, salt, EXPORT_OPSLIMIT, EXPORT_MEMLIMIT)
    sealed = Aead(key).encrypt(seed, _associated_data(address), nonce)
    document = {
        "format": FORMAT,
        "version": VERSION,
        "address": address,
        "kdf": {
            "name": KDF_NAME,
            "opslimit": EXPORT_OPSLIMIT,
            "memlimit": EXPORT_MEMLIMIT,
            "salt": salt.hex(),
        },
        "cipher": {"name": CIPHER_NAME, "nonce": nonce.hex(), "ciphertext": sealed.ciphertext.hex()},
    }
    # The file is for people to keep: indented, keys in a reading order.
    return (json.dumps(document, indent=2) + "\n").encode("ascii")


def backup_parse(raw: bytes) -> dict:
    """The backup's fields, checked for form and bounds before any key is derived."""
    if len(raw) > MAX_BACKUP_BYTES:
        raise Refused(
            TOO_LARGE,
            ledger_text(
                "A wallet backup is at most %(size)s bytes; this file is larger.", size=MAX_BACKUP_BYTES
            ),
            "backup",
        )
    try:
        document = json_decode(raw)
    except LedgerError:
        raise Refused(
            BAD_BACKUP, "This file is not a GridTokenX wallet backup (not JSON).", "backup"
        ) from None
    document = _exact_keys(document, {"format", "version", "address", "kdf", "cipher"}, "document")
    if document["format"] != FORMAT:
        raise Refused(BAD_BACKUP, "This file is not a GridTokenX wallet backup.", "backup")
    if type(document["version"]) is not int or document["version"] != VERSION:
        raise Refused(
            BAD_BACKUP,
            ledger_text("This site reads backup version %(version)s only.", version=VERSION),
            "backup",
        )
    if not is_address(document["address"]):
        raise Refused(BAD_BACKUP, "The file's address must be 64 lowercase hex characters.", "backup")
    kdf = _exact_keys(document["kdf"], {"name", "opslimit", "memlimit", "salt"}, "kdf")
    cipher = _exact_keys(document["cipher"], {"name", "nonce", "ciphertext"}, "cipher")
    if kdf["name"] != KDF_NAME or cipher["name"] != CIPHER_NAME:
        raise Refused(
            BAD_BACKUP,
            ledger_text("This site reads %(kdf)s with %(cipher)s only.", kdf=KDF_NAME, cipher=CIPHER_NAME),
            "backup",
        )
    for name, (low, high) in KDF_BOUNDS.items():
        value = kdf[name]
        if type(value) is not int or not low <= value <= high:
            raise Refused(
                BAD_BACKUP,
                ledger_text(
                    "The file's kdf %(name)s must be a whole number from %(low)s to %(high)s.",
                    name=name,
                    low=low,
                    high=high,
                ),
                "backup",
            )
    return {
        "address": document["address"],
        "opslimit": kdf["opslimit"],
        "memlimit": kdf["memlimit"],
        "salt": _hex_field(kdf["salt"], SALT_BYTES, "kdf salt"),
        "nonce": _hex_field(cipher["nonce"], NONCE_BYTES, "cipher nonce"),
        "ciphertext": _hex_field(cipher["ciphertext"], CIPHERTEXT_BYTES, "ciphertext"),
    }


def backup_open(parsed: dict, *, passphrase: str) -> bytes:
    """The seed in a parsed backup; Refused(wrong_passphrase) if it does not open or does not
    derive the file's address (a file sealed over another address never opens: see the AD)."""
    key = _derive(passphrase, parsed["salt"], parsed["opslimit"], parsed["memlimit"])
    try:
        seed = Aead(key).decrypt(parsed["ciphertext"], _associated_data(parsed["address"]), parsed["nonce"])
    except CryptoError:
        raise Refused(
            WRONG_PASSPHRASE,
            "The passphrase does not open this backup, or the file was changed.",
            "passphrase",
        ) from None
    if address_of(signing_key_from_seed(seed)) != parsed["address"]:
        raise Refused(BAD_BACKUP, "The key in this file is not the key of its address.", "backup")
    return seed


def _attempt_admit(user_id: int) -> None:
    """Count one export or import attempt of the person; raise TooManyAttempts past the rate."""
    limit, seconds = rate_parse(settings.GTX_KEY_BACKUP_RATE)
    allowed, wait = window_hit(f"key-backup-attempts:{user_id}", limit=limit, seconds=seconds)
    if not allowed:
        raise TooManyAttempts(reason="key_backup", wait_seconds=wait)


def _record(request, action: str, *, address: str = "", reason: str = "") -> None:
    WalletKeyEvent.objects.create(
        user=request.user, action=action, address=address, reason=reason, client_ip=client_ip(request) or None
    )


def _check_password(user, password: str) -> None:
    if not user.check_password(password):
        raise Refused(WRONG_PASSWORD, "That is not your password.", "password")


def _check_passphrase(passphrase: str) -> None:
    if not MIN_PASSPHRASE_CHARS <= len(passphrase) <= MAX_PASSPHRASE_CHARS:
        raise Refused(
            WEAK_PASSPHRASE,
            ledger_text(
                "Choose a passphrase of %(low)s to %(high)s characters.",
                low=MIN_PASSPHRASE_CHARS,
                high=MAX_PASSPHRASE_CHARS,
            ),
            "passphrase",
        )


def wallet_backup_export(*, request, password: str, passphrase: str) -> bytes:
    """The logged-in person's wallet key as a backup file, after their password.

    Raises TooManyAttempts before any hashing past GTX_KEY_BACKUP_RATE, Refused for a wrong
    password, a short passphrase or a self-custody wallet (this site has no key to export).
    Every outcome is in the audit trail (WalletKeyEvent).
    """
    user = request.user
    wallet = user.wallet
    try:
        if wallet.self_custody:
            raise Refused(NO_KEY_HERE, "Your key is in your browser, not on this site: export it from there.")
        _check_passphrase(passphrase)
        _attempt_admit(user.pk)
        with password_hash_slot():
            _check_password(user, password)
            document = backup_encode(
                seed=wallet_key_open(wallet).encode(), address=wallet.address, passphrase=passphrase
            )
    except Refused as exc:
        _record(request, WalletKeyEvent.Action.REFUSED, address=wallet.address, reason=exc.code)
        raise
    _record(request, WalletKeyEvent.Action.EXPORTED, address=wallet.address)
    return document


def _account_untouched(address: str) -> bool:
    """Nothing on the ledger or waiting for it would be left without a key if this address went."""
    return not (
        Account.objects.filter(address=address).exists()
        or MempoolTx.objects.filter(sender=address).exists()
        or HeldTx.objects.filter(sender=address).exists()
    )


def wallet_backup_import(*, request, raw: bytes, password: str, passphrase: str) -> Wallet:
    """Make the key in backup file ``raw`` the logged-in person's wallet on this site.

    Refused, with nothing changed: an oversized or malformed file, a wrong password or
    passphrase, an address another user of this site owns, or a wallet of theirs here
    that already has an account on the ledger (replacing its key would strand it).
    """
    user = request.user
    try:
        parsed = backup_parse(raw)
        address = parsed["address"]
        if user.wallet.address == address:
            raise Refused(ALREADY_YOURS, "This key is already your wallet on this site.", "backup")
        _attempt_admit(user.pk)
        with password_hash_slot():
            _check_password(user, password)
            seed = backup_open(parsed, passphrase=passphrase)
        with transaction.atomic():
            wallet = Wallet.objects.select_for_update().get(user=user)
            if Wallet.objects.filter(address=address).exclude(user=user).exists():
                raise Refused(
                    ADDRESS_TAKEN, "Another user of this site already holds this address.", "backup"
                )
            if not _account_untouched(wallet.address):
                raise Refused(
                    WALLET_IN_USE,
                    "Your wallet here already has an account on the ledger; importing would leave "
                    "it without a key. Import into a new login instead.",
                )
            version = seal_key_version()
            wallet.address = address
            wallet.custody = Custody.SITE
            wallet.sealed_key = wallet_key_seal(signing_key_from_seed(seed), version=version)
            wallet.seal_key_version = version
            try:
                with transaction.atomic():
                    wallet.save(update_fields=["address", "custody", "sealed_key", "seal_key_version"])
            except IntegrityError:  # a twin import or sign-up took the address since the check
                raise Refused(
                    ADDRESS_TAKEN, "Another user of this site already holds this address.", "backup"
                ) from None
    except Refused as exc:
        _record(request, WalletKeyEvent.Action.REFUSED, reason=exc.code)
        raise
    _record(request, WalletKeyEvent.Action.IMPORTED, address=address)
    return wallet
