"""The worked example of docs/PROTOCOL.md, computed by the ledger core from fixed seeds.

    .venv/bin/python docs/protocol_example.py

prints the example's values; tests/chain/test_ledger_protocol_doc.py checks
that PROTOCOL.md contains exactly these, so the document cannot drift from
the code.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from chain.ledger.block import precommit_bytes  # noqa: E402
from chain.ledger.encoding import canonical_json  # noqa: E402
from chain.ledger.keys import address_of, sign, signing_key_from_seed  # noqa: E402
from chain.ledger.tx import sign_transaction  # noqa: E402

SENDER_SEED = bytes(range(1, 33))
RECIPIENT_SEED = bytes([0x42]) * 32
CHAIN_ID = "gridtokenx-th-demo-1"


def example() -> dict[str, str]:
    """Every value the document shows, as text exactly as it appears there."""
    key = signing_key_from_seed(SENDER_SEED)
    to = address_of(signing_key_from_seed(RECIPIENT_SEED))
    tx = sign_transaction(
        key,
        chain_id=CHAIN_ID,
        nonce=0,
        kind="transfer",
        payload={"to": to, "amount": 2_500_000, "memo": "ค่าไฟ"},
    )
    block_hash = "00" * 32
    vote = precommit_bytes(chain_id=CHAIN_ID, height=1, round=0, block_hash=block_hash)
    return {
        "sender_seed_hex": SENDER_SEED.hex(),
        "sender_public_key": tx.sender,
        "recipient_seed_hex": RECIPIENT_SEED.hex(),
        "recipient_address": to,
        "unsigned_json": canonical_json(tx.unsigned()).decode(),
        "signing_bytes_hex": tx.signing_bytes.hex(),
        "tx_hash": tx.hash,
        "signature": tx.signature,
        "wire_json": canonical_json(tx.to_wire()).decode(),
        "precommit_bytes_hex": vote.hex(),
        "precommit_signature": sign(key, vote),
    }


if __name__ == "__main__":
    for name, value in example().items():
        print(f"{name}:\n{value}\n")
