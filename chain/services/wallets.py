"""Custodial wallets: each user's key, sealed at rest, signs what they do in the browser."""

import hashlib

from django.conf import settings
from django.db import transaction
from nacl.secret import SecretBox
from nacl.signing import SigningKey

from chain.ledger.keys import address_of, new_signing_key
from chain.ledger.tx import Transaction, sign_transaction
from chain.models import Account, ChainHead, MempoolTx, Wallet
from chain.services.admission import transactions_submit


def _seal_box() -> SecretBox:
    secret = (settings.GTX_WALLET_SEAL_KEY or settings.SECRET_KEY).encode()
    return SecretBox(hashlib.blake2b(secret, digest_size=32, person=b"gtx-wallet-seal").digest())


def wallet_create(*, user, role: str, region: str = "", key: SigningKey | None = None) -> Wallet:
    """A new wallet for ``user``. The private key is sealed and never shown again."""
    key = key or new_signing_key()
    return Wallet.objects.create(
        user=user,
        address=address_of(key),
        sealed_key=bytes(_seal_box().encrypt(key.encode())),
        role=role,
        region=region,
    )


def _signing_key(wallet: Wallet) -> SigningKey:
    return SigningKey(_seal_box().decrypt(bytes(wallet.sealed_key)))


def next_nonce(address: str) -> int:
    """The nonce the account's next transaction must carry: committed ones plus those waiting."""
    committed = Account.objects.filter(address=address).values_list("nonce", flat=True).first()
    return (committed or 0) + MempoolTx.objects.filter(sender=address).count()


def wallet_submit(*, wallet: Wallet, kind: str, payload: dict) -> Transaction:
    """Sign ``kind``/``payload`` with the user's key at the next free nonce and admit it.

    Locks the wallet row so two tabs of one user cannot pick the same nonce.
    Raises BatchRejected, as the API does, when the transaction is refused.
    """
    with transaction.atomic():
        Wallet.objects.select_for_update().filter(pk=wallet.pk).first()
        head = ChainHead.objects.only("chain_id").get()
        tx = sign_transaction(
            _signing_key(wallet),
            chain_id=head.chain_id,
            nonce=next_nonce(wallet.address),
            kind=kind,
            payload=payload,
        )
        transactions_submit([tx.to_wire()])
    return tx
