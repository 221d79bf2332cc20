"""Custodial wallets: each user's key, sealed at rest, signs what they do in the browser.

What a wallet signs goes through chain.services.signing.transaction_sign_submit with
``key=wallet_key_open(wallet)``.

A wallet's key is sealed (XChaCha20-Poly1305, PyNaCl's Aead) under one of the versioned
keys of GTX_WALLET_KEYS, and the row keeps that version beside the sealed bytes. The
wallet's address is the associated data: a sealed key copied to another row does not open.

A self-custody wallet (``custody="self"``) holds no key at all: its owner's browser signs, and
this site only knows the address they proved theirs (``wallet_link_self_custody``).
"""

from django.conf import settings
from django.db import transaction
from nacl.secret import Aead
from nacl.signing import SigningKey

from chain.ledger.keys import address_of, new_signing_key
from chain.models import Custody, Wallet

RESEAL_BATCH = 500


class WalletKeyMissing(Exception):
    """A wallet is sealed under a key version GTX_WALLET_KEYS no longer has, or has no key here
    at all: its owner keeps it (self-custody) and signs in their browser."""


def seal_key_version() -> int:
    """The version that seals new wallets: the highest of GTX_WALLET_KEYS."""
    return max(settings.GTX_WALLET_KEYS)


def _seal_box(version: int) -> Aead:
    try:
        return Aead(settings.GTX_WALLET_KEYS[version])
    except KeyError:
        raise WalletKeyMissing(f"GTX_WALLET_KEYS has no version {version}") from None


def _associated_data(address: str) -> bytes:
    return b"gtx-wallet:" + address.encode()


def wallet_key_seal(key: SigningKey, *, version: int) -> bytes:
    return bytes(_seal_box(version).encrypt(key.encode(), _associated_data(address_of(key))))


def wallet_key_open(wallet: Wallet) -> SigningKey:
    """The wallet's signing key. Raises WalletKeyMissing, or nacl's CryptoError if tampered with."""
    if wallet.sealed_key is None:
        raise WalletKeyMissing(f"wallet {wallet.address} is in self-custody: its owner's browser signs")
    box = _seal_box(wallet.seal_key_version)
    return SigningKey(box.decrypt(bytes(wallet.sealed_key), _associated_data(wallet.address)))


def wallet_create(*, user, role: str, region: str = "", key: SigningKey | None = None) -> Wallet:
    """A new wallet for ``user``. The private key is sealed and never shown again."""
    key = key or new_signing_key()
    version = seal_key_version()
    return Wallet.objects.create(
        user=user,
        address=address_of(key),
        sealed_key=wallet_key_seal(key, version=version),
        seal_key_version=version,
        role=role,
        region=region,
    )


def wallet_link_self_custody(*, user, role: str, region: str, address: str) -> Wallet:
    """A wallet whose key stays with ``user`` (the caller verified they hold it): no key stored."""
    return Wallet.objects.create(
        user=user,
        address=address,
        custody=Custody.SELF,
        sealed_key=None,
        seal_key_version=None,
        role=role,
        region=region,
    )


def wallets_reseal() -> int:
    """Seal every wallet not under the newest key version under it; returns how many.

    Each batch is one transaction holding its rows' locks, so no row is half resealed; a
    wallet read before its batch commits still opens under its old version, which
    GTX_WALLET_KEYS keeps until every wallet moved. Idempotent: run it again after a
    crash and it goes on with what is left.
    """
    newest = seal_key_version()
    moved = 0
    while True:
        with transaction.atomic():
            batch = list(
                Wallet.objects.select_for_update()
                .filter(custody=Custody.SITE)
                .exclude(seal_key_version=newest)
                .only("pk", "address", "sealed_key", "seal_key_version")
                .order_by("pk")[:RESEAL_BATCH]
            )
            for wallet in batch:
                wallet.sealed_key = wallet_key_seal(wallet_key_open(wallet), version=newest)
                wallet.seal_key_version = newest
            Wallet.objects.bulk_update(batch, ["sealed_key", "seal_key_version"])
        moved += len(batch)
        if len(batch) < RESEAL_BATCH:
            return moved


def wallet_activity_seen(*, wallet: Wallet, seen_id: int) -> None:
    """The person opened their activity feed up to event ``seen_id``: the badge counts from there.

    Never moves back (an older tab opened later must not bring old events back as new).
    """
    Wallet.objects.filter(pk=wallet.pk, activity_seen_id__lt=seen_id).update(activity_seen_id=seen_id)
    wallet.activity_seen_id = max(wallet.activity_seen_id, seen_id)
