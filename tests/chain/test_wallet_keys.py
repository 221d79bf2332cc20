"""Wallet keys sealed under GTX_WALLET_KEYS: versioned, rotatable, and never tied to SECRET_KEY."""

import hashlib
import importlib
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from nacl.exceptions import CryptoError
from nacl.secret import SecretBox

from chain.ledger.keys import address_of, new_signing_key
from chain.models import Wallet
from chain.services.signing import transaction_sign_submit
from chain.services.wallets import wallet_create, wallet_key_open
from localnet import BASE_DIR

KEY_1 = bytes.fromhex("11" * 32)
KEY_2 = bytes.fromhex("22" * 32)


@pytest.fixture
def newcomer(django_user_model):
    return lambda name: wallet_create(user=django_user_model.objects.create(username=name), role="consumer")


def opens(wallet: Wallet) -> bool:
    wallet.refresh_from_db()
    return address_of(wallet_key_open(wallet)) == wallet.address


def test_rotating_secret_key_leaves_every_wallet_able_to_sign(users, settings, produce):
    wallet = users["home_malee"].wallet
    settings.SECRET_KEY = "a-new-secret-key-after-the-old-one-leaked-" + "x" * 20

    assert opens(wallet)
    transaction_sign_submit(key=wallet_key_open(wallet), kind="stake_bond", payload={"amount": 1})
    assert produce().height == 1


def test_new_wallets_are_sealed_under_the_newest_version_and_keep_it(db, settings, newcomer):
    settings.GTX_WALLET_KEYS = {1: KEY_1}
    old = newcomer("old")
    settings.GTX_WALLET_KEYS = {1: KEY_1, 2: KEY_2}
    new = newcomer("new")

    assert (old.seal_key_version, new.seal_key_version) == (1, 2)
    assert opens(old) and opens(new)


def test_reseal_moves_every_wallet_to_the_newest_key_so_the_old_one_can_go(db, settings, newcomer):
    settings.GTX_WALLET_KEYS = {1: KEY_1}
    wallets = [newcomer(f"user{n}") for n in range(3)]
    keys_before = [wallet_key_open(w).encode() for w in wallets]
    settings.GTX_WALLET_KEYS = {1: KEY_1, 2: KEY_2}

    call_command("reseal_wallets", stdout=open(os.devnull, "w"))  # noqa: SIM115
    settings.GTX_WALLET_KEYS = {2: KEY_2}

    for wallet, seed in zip(wallets, keys_before, strict=True):
        wallet.refresh_from_db()
        assert wallet.seal_key_version == 2
        assert wallet_key_open(wallet).encode() == seed
    assert Wallet.objects.exclude(seal_key_version=2).count() == 0


def test_reseal_refuses_while_an_old_version_is_missing_and_changes_nothing(db, settings, newcomer):
    settings.GTX_WALLET_KEYS = {1: KEY_1}
    wallet = newcomer("kept")
    sealed = bytes(wallet.sealed_key)
    settings.GTX_WALLET_KEYS = {2: KEY_2}

    with pytest.raises(CommandError, match="no version 1"):
        call_command("reseal_wallets")

    wallet.refresh_from_db()
    assert (bytes(wallet.sealed_key), wallet.seal_key_version) == (sealed, 1)


def test_a_sealed_key_copied_to_another_wallet_does_not_open(db, newcomer):
    victim, thief = newcomer("victim"), newcomer("thief")
    Wallet.objects.filter(pk=thief.pk).update(sealed_key=victim.sealed_key)
    thief.refresh_from_db()
    with pytest.raises(CryptoError):
        wallet_key_open(thief)


def test_the_migration_reseals_wallets_of_the_old_secret_key_derivation(db, settings, django_user_model):
    """Wallets sealed before GTX_WALLET_KEYS (version 0) move to the newest version."""
    migration = importlib.import_module("chain.migrations.0009_wallet_seal_key_version")
    key = new_signing_key()
    old_box = SecretBox(
        hashlib.blake2b(settings.SECRET_KEY.encode(), digest_size=32, person=b"gtx-wallet-seal").digest()
    )
    wallet = Wallet.objects.create(
        user=django_user_model.objects.create(username="from-before"),
        address=address_of(key),
        sealed_key=bytes(old_box.encrypt(key.encode())),
        seal_key_version=0,
    )

    migration.reseal_legacy_wallets(apps, None)

    wallet.refresh_from_db()
    assert wallet.seal_key_version == max(settings.GTX_WALLET_KEYS)
    assert wallet_key_open(wallet).encode() == key.encode()


def _check(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "check"],
        env=env,
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("wallet_keys", [None, "1=" + "ab" * 31, "1=" + "AB" * 32, "0=" + "ab" * 32])
def test_outside_development_the_site_will_not_start_without_good_wallet_keys(wallet_keys):
    env = {k: v for k, v in os.environ.items() if k not in ("GTX_DEV", "GTX_WALLET_KEYS")}
    env["SECRET_KEY"] = "k" * 20 + "an-operators-own-secret-key-0123456789"
    env["ALLOWED_HOSTS"] = "gridtokenx.example"
    if wallet_keys is not None:
        env["GTX_WALLET_KEYS"] = wallet_keys

    result = _check(env)

    assert result.returncode != 0
    assert "GTX_WALLET_KEYS" in result.stderr
