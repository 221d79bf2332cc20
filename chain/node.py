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
    """Write the key to a file only its owner may read or write (0600), whatever the umask.

    The seed goes to a fresh file that is then renamed over the path, so no reader ever
    sees a half-written key and an existing file's looser mode is not kept.
    """
    path = node_key_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.encode().hex() + "\n")
    os.replace(partial, path)
    node_signing_key.cache_clear()


@cache
def node_signing_key() -> SigningKey:
    return SigningKey(bytes.fromhex(node_key_path().read_text().strip()))


def node_address() -> str:
    return address_of(node_signing_key())
