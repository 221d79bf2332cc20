"""Verify-the-chain benchmark: how fast a regulator's check re-verifies a stored chain.

Prepares a fresh site database (migrated, the demo genesis with EGAT its only validator), writes BENCH_BLOCKS
blocks of BENCH_TXS signed transfers each through the real admission and block
producer, then runs the verification service in this process, once without
and once with the replay from genesis.

Prints one JSON object on its last line: blocks, transactions, seconds and
blocks/s and signatures/s for each run.

Environment: BENCH_BLOCKS (200), BENCH_TXS (50).
"""

import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    from localnet.databases import database_drop
    from localnet.genesis_files import solo_genesis
    from localnet.network import prepare_site

    blocks, per_block = int(os.environ.get("BENCH_BLOCKS", 200)), int(os.environ.get("BENCH_TXS", 50))
    tmp = Path(tempfile.mkdtemp(prefix="gtx-bench-audit-"))
    env = prepare_site(tmp, genesis=solo_genesis(tmp)).env
    keys = ("DATABASE_URL", "GTX_DEV", "GTX_NODE_KEY_FILE", "GTX_GENESIS", "GTX_NODE_NAME")
    os.environ.update({key: env[key] for key in keys})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    import django

    django.setup()
    from django.db import connection

    try:
        result = _run(blocks, per_block)
    finally:
        connection.close()
        database_drop(env["DATABASE_URL"])
    print(json.dumps(result))


def _run(blocks: int, per_block: int) -> dict:
    from django.contrib.auth import get_user_model

    from audit.services import verification_run, verification_start
    from chain.ledger.genesis import demo_key
    from chain.ledger.keys import address_of
    from chain.ledger.tx import sign_transaction
    from chain.models import ChainHead
    from chain.services.admission import transactions_submit
    from chain.services.consensus.step import consensus_step

    head = ChainHead.objects.get()
    senders = [demo_key(name) for name in ("wind_korat", "hydro_nan", "factory_rayong", "home_malee")]
    to = address_of(demo_key("solar_somchai"))
    nonces = {address_of(k): 0 for k in senders}
    node_key = demo_key("EGAT")
    for _ in range(blocks):
        wires = []
        for i in range(per_block):
            key = senders[i % len(senders)]
            sender = address_of(key)
            tx = sign_transaction(
                key,
                chain_id=head.chain_id,
                nonce=nonces[sender],
                kind="transfer",
                payload={"to": to, "amount": 1},
            )
            nonces[sender] += 1
            wires.append(tx.to_wire())
        transactions_submit(wires)
        assert consensus_step(node_key) is not None
    regulator = get_user_model().objects.get(username="erc_auditor")
    figures: dict = {"blocks": blocks, "transactions": blocks * per_block}
    for label, replay in (("check", False), ("replay", True)):
        run = verification_start(user=regulator, replay=replay)
        started = time.perf_counter()
        finished = verification_run(verification_id=run.pk)
        seconds = time.perf_counter() - started
        assert finished.status == "passed", finished.problem
        figures[label] = {
            "seconds": round(seconds, 3),
            "blocks_per_s": round(blocks / seconds, 1),
            "signatures_per_s": round(
                (finished.signatures_checked + finished.precommits_checked) / seconds, 1
            ),
        }
    return figures


if __name__ == "__main__":
    sys.exit(main())
