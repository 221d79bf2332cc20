"""Send 2.5 tokens from one demo account to another and follow the transfer to final at every site.

    make run                                  # in another terminal: the four demo sites
    .venv/bin/python docs/client_example.py   # or name the sites: ... http://127.0.0.1:8000 http://127.0.0.1:8001

Uses only gtxclient (docs/CLIENT.md). The demo keys are public: never use them for real value.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gtxclient import TOKEN_UNIT, Key, Network, Refused, sign_transaction  # noqa: E402

DEMO_SITES = [
    "http://127.0.0.1:8000",
    "http://127.0.0.1:8001",
    "http://127.0.0.1:8002",
    "http://127.0.0.1:8003",
]


def send_and_follow(urls: list[str], *, sender: str = "home_malee", recipient: str = "solar_somchai") -> dict:
    key = Key.demo(sender)  # seed = sha256("gridtokenx-demo/home_malee"): PROTOCOL.md §13
    to = Key.demo(recipient).address
    with Network(urls) as network:
        site = network.sites[0]  # any one site: it gossips the transaction to the others
        chain_id = site.status()["chain_id"]
        before = site.account(key.address)
        tx = sign_transaction(
            key,
            chain_id=chain_id,
            nonce=site.next_nonce(key.address),
            kind="transfer",
            payload={"to": to, "amount": 2 * TOKEN_UNIT + TOKEN_UNIT // 2, "memo": "ค่าไฟ"},
        )
        try:
            site.submit(tx)
        except Refused as refused:  # e.g. nonce_replayed: another program sent with this key meanwhile
            raise SystemExit(f"refused: {refused.code}: {refused.message}") from refused
        final = network.follow(tx.hash, timeout=60)  # committed at every site, or NotFinal / Dropped
        after = site.account(key.address)
    return {
        "tx_hash": tx.hash,
        "block_height": final.block_height,
        "ok": final.ok,
        "balance_before": before["balance"],
        "balance_after": after["balance"],
    }


if __name__ == "__main__":
    result = send_and_follow(sys.argv[1:] or DEMO_SITES)
    for name, value in result.items():
        print(f"{name}: {value}")
