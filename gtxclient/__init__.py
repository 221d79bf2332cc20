"""gtxclient: what a program needs to use a GridTokenX network, written from docs/PROTOCOL.md
and docs/API.md alone (it imports nothing of the site). docs/CLIENT.md shows how.

    key = Key.demo("home_malee")
    with Network(["http://127.0.0.1:8000", "http://127.0.0.1:8001"]) as network:
        site = network.sites[0]
        tx = sign_transaction(key, chain_id=site.status()["chain_id"], nonce=site.next_nonce(key.address),
                              kind="transfer", payload={"to": to, "amount": 2_500_000})
        site.submit(tx)
        final = network.follow(tx.hash)
"""

from .encoding import MAX_SAFE_INTEGER, TX_DOMAIN, EncodingError, canonical_json
from .keys import Key
from .site import Accepted, Dropped, Final, Network, NotFinal, Refused, Site, Unanswered
from .tx import Transaction, sign_transaction, signing_bytes

#: Token amounts are integers in units of 10^-6 token; energy in Wh (docs/PROTOCOL.md §1).
TOKEN_UNIT = 1_000_000
WH_PER_KWH = 1_000

__all__ = [
    "MAX_SAFE_INTEGER",
    "TOKEN_UNIT",
    "TX_DOMAIN",
    "WH_PER_KWH",
    "Accepted",
    "Dropped",
    "EncodingError",
    "Final",
    "Key",
    "Network",
    "NotFinal",
    "Refused",
    "Site",
    "Transaction",
    "Unanswered",
    "canonical_json",
    "sign_transaction",
    "signing_bytes",
]
