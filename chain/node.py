"""This site's node key: an ed25519 seed in a file only the site reads."""

import os
from functools import cache
from pathlib import Path

from django.conf import settings
from nacl.signing import SigningKey

from chain.ledger.keys import address_of


def node_key_path() -> Path:
    return Path(settings.GTX_NODE_KEY_FILE)


def node_key_write(key: SigningKey) -> None:
    path = node_key_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.encode().hex() + "\n")
    node_signing_key.cache_clear()


@cache
def node_signing_key() -> SigningKey:
    return SigningKey(bytes.fromhex(node_key_path().read_text().strip()))


def node_address() -> str:
    return address_of(node_signing_key())
