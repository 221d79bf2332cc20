"""Wallet keys sealed under GTX_WALLET_KEYS, with the key version beside each sealed key.

Until now a wallet key was sealed (SecretBox) under a key derived from GTX_WALLET_SEAL_KEY,
or from SECRET_KEY when that was unset. This migration opens each such wallet with that
old derivation, so it must run with the SECRET_KEY (or GTX_WALLET_SEAL_KEY) the wallets
were sealed under, and seals it again under the newest GTX_WALLET_KEYS version. Afterwards
SECRET_KEY seals nothing. Reversing it forgets the version only: keys stay sealed as they are.
"""

import hashlib
import os

from django.conf import settings
from django.db import migrations, models
from nacl.exceptions import CryptoError
from nacl.secret import Aead, SecretBox

LEGACY_VERSION = 0


def _legacy_box() -> SecretBox:
    secret = (os.environ.get("GTX_WALLET_SEAL_KEY") or settings.SECRET_KEY).encode()
    return SecretBox(hashlib.blake2b(secret, digest_size=32, person=b"gtx-wallet-seal").digest())


def reseal_legacy_wallets(apps, schema_editor):
    Wallet = apps.get_model("chain", "Wallet")
    legacy = Wallet.objects.filter(seal_key_version=LEGACY_VERSION).order_by("pk")
    if not legacy.exists():
        return
    newest = max(settings.GTX_WALLET_KEYS)
    box = Aead(settings.GTX_WALLET_KEYS[newest])
    old_box = _legacy_box()
    for wallet in legacy.iterator(chunk_size=500):
        try:
            seed = old_box.decrypt(bytes(wallet.sealed_key))
        except CryptoError:
            raise RuntimeError(
                f"Wallet {wallet.address} does not open under the old derivation: run migrate with the "
                "SECRET_KEY (or GTX_WALLET_SEAL_KEY) the wallets were sealed under, then rotate it."
            ) from None
        wallet.sealed_key = bytes(box.encrypt(seed, b"gtx-wallet:" + wallet.address.encode()))
        wallet.seal_key_version = newest
        wallet.save(update_fields=["sealed_key", "seal_key_version"])


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0008_mempool_turn"),
    ]

    operations = [
        migrations.AddField(
            model_name="wallet",
            name="seal_key_version",
            field=models.PositiveSmallIntegerField(default=LEGACY_VERSION),
            preserve_default=False,
        ),
        migrations.RunPython(reseal_legacy_wallets, migrations.RunPython.noop),
    ]
