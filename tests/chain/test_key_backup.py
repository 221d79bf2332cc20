"""The wallet backup format (chain.services.key_backup): round trip, and every file it refuses."""

import json

import pytest
from nacl.secret import Aead
from nacl.utils import random

from chain.ledger.errors import Refused
from chain.ledger.keys import address_of, new_signing_key
from chain.services import key_backup as kb

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def key():
    return new_signing_key()


@pytest.fixture(scope="module")
def backup(key):
    return kb.backup_encode(seed=key.encode(), address=address_of(key), passphrase=PASSPHRASE)


def edited(backup: bytes, change) -> bytes:
    document = json.loads(backup)
    change(document)
    return json.dumps(document).encode()


def refusal(raw: bytes, passphrase: str = PASSPHRASE) -> str:
    with pytest.raises(Refused) as caught:
        kb.backup_open(kb.backup_parse(raw), passphrase=passphrase)
    return caught.value.code


def test_it_round_trips_the_seed_with_the_documented_fields(key, backup):
    document = json.loads(backup)
    assert set(document) == {"format", "version", "address", "kdf", "cipher"}
    assert document["format"] == "gridtokenx-wallet-backup" and document["version"] == 1
    assert document["address"] == address_of(key)
    assert document["kdf"]["name"] == "argon2id"
    assert (document["kdf"]["opslimit"], document["kdf"]["memlimit"]) == (3, 64 * 1024 * 1024)
    assert len(document["kdf"]["salt"]) == 32 and len(document["cipher"]["nonce"]) == 48
    assert len(document["cipher"]["ciphertext"]) == 96
    assert key.encode().hex() not in backup.decode()
    assert kb.backup_open(kb.backup_parse(backup), passphrase=PASSPHRASE) == key.encode()


def test_two_exports_of_one_key_share_no_salt_or_nonce(key, backup):
    again = json.loads(kb.backup_encode(seed=key.encode(), address=address_of(key), passphrase=PASSPHRASE))
    first = json.loads(backup)
    assert again["kdf"]["salt"] != first["kdf"]["salt"]
    assert again["cipher"]["nonce"] != first["cipher"]["nonce"]


def test_it_refuses_a_wrong_passphrase(backup):
    assert refusal(backup, passphrase=PASSPHRASE + "!") == kb.WRONG_PASSPHRASE


def flip_ciphertext(d):
    c = d["cipher"]["ciphertext"]
    d["cipher"]["ciphertext"] = ("0" if c[0] != "0" else "1") + c[1:]


def other_address(d):
    d["address"] = address_of(new_signing_key())


def other_salt(d):
    d["kdf"]["salt"] = random(16).hex()


@pytest.mark.parametrize("tamper", [flip_ciphertext, other_address, other_salt])
def test_a_tampered_file_does_not_open(backup, tamper):
    assert refusal(edited(backup, tamper)) == kb.WRONG_PASSPHRASE


def test_a_file_whose_key_is_not_its_address_is_refused():
    """Sealed honestly over address A, but holding B's seed: the key must derive the address."""
    key_a, key_b = new_signing_key(), new_signing_key()
    salt, nonce = random(16), random(24)
    secret = kb._derive(PASSPHRASE, salt, 1, 8 * 1024 * 1024)
    sealed = Aead(secret).encrypt(key_b.encode(), kb._associated_data(address_of(key_a)), nonce)
    document = {
        "format": kb.FORMAT,
        "version": 1,
        "address": address_of(key_a),
        "kdf": {"name": "argon2id", "opslimit": 1, "memlimit": 8 * 1024 * 1024, "salt": salt.hex()},
        "cipher": {"name": kb.CIPHER_NAME, "nonce": nonce.hex(), "ciphertext": sealed.ciphertext.hex()},
    }
    assert refusal(json.dumps(document).encode()) == kb.BAD_BACKUP


def set_path(path, value):
    def change(d):
        target = d
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value

    return change


def drop(path):
    def change(d):
        target = d
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return change


MALFORMED = {
    "extra field": set_path(("comment",), "hi"),
    "missing kdf": drop(("kdf",)),
    "other format": set_path(("format",), "ethereum-keystore"),
    "version as text": set_path(("version",), "1"),
    "version 2": set_path(("version",), 2),
    "version true": set_path(("version",), True),
    "upper-case address": lambda d: d.update(address=d["address"].upper()),
    "scrypt": set_path(("kdf", "name"), "scrypt"),
    "aes": set_path(("cipher", "name"), "aes-256-gcm"),
    "opslimit too high": set_path(("kdf", "opslimit"), 5),
    "opslimit zero": set_path(("kdf", "opslimit"), 0),
    "opslimit huge": set_path(("kdf", "opslimit"), 2**53 - 1),
    "memlimit too high (1 GiB)": set_path(("kdf", "memlimit"), 1024**3),
    "memlimit too low": set_path(("kdf", "memlimit"), 1024),
    "memlimit as text": set_path(("kdf", "memlimit"), "67108864"),
    "opslimit a boolean": set_path(("kdf", "opslimit"), True),
    "salt upper case": lambda d: d["kdf"].update(salt=d["kdf"]["salt"].upper()),
    "salt too short": lambda d: d["kdf"].update(salt=d["kdf"]["salt"][:30]),
    "nonce too long": lambda d: d["cipher"].update(nonce=d["cipher"]["nonce"] + "00"),
    "ciphertext truncated": lambda d: d["cipher"].update(ciphertext=d["cipher"]["ciphertext"][:64]),
    "kdf a list": set_path(("kdf",), [1, 2]),
}


@pytest.mark.parametrize("change", MALFORMED.values(), ids=MALFORMED.keys())
def test_it_refuses_a_malformed_file_before_deriving_any_key(backup, change):
    with pytest.raises(Refused) as caught:
        kb.backup_parse(edited(backup, change))
    assert caught.value.code == kb.BAD_BACKUP
    assert caught.value.field == "backup"


@pytest.mark.parametrize(
    "raw", [b"", b"not json", b"[]", b'{"format": 1e400}', "\ufeff{}".encode(), b"\xff\xfe"], ids=repr
)
def test_it_refuses_what_is_not_a_backup_at_all(raw):
    with pytest.raises(Refused) as caught:
        kb.backup_parse(raw)
    assert caught.value.code == kb.BAD_BACKUP


def test_it_refuses_an_oversized_file_unread(backup):
    with pytest.raises(Refused) as caught:
        kb.backup_parse(backup + b" " * (kb.MAX_BACKUP_BYTES - len(backup) + 1))
    assert caught.value.code == kb.TOO_LARGE
    assert len(backup) <= kb.MAX_BACKUP_BYTES  # what an export writes always fits
