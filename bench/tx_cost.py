"""Per-transaction CPU of each step a validator site takes, without HTTP or consensus messages.

One fresh database holding the bench genesis (bench.network's: the demo
genesis plus BENCH_SENDERS funded senders). COST_BLOCKS blocks of COST_TXS
signed transfers each go through the site's own code in this process:

- ``parse``: JSON wire to Transaction (canonical encoding and hash);
- ``verify``: the ed25519 signatures;
- ``admit``: transactions_submit of the parsed, verified batch (its checks and
  the mempool insert), gossip off; signatures are counted under ``verify``;
- ``build``: block_build, as the proposer (the mempool run leniently);
- ``assemble``: a peer reading that block's transactions from its mempool by hash;
- ``check``: block_check of that block, as that peer (signatures verified at admission);
- ``write``: block_write of the decided block, mempool cleared.

For each step it prints microseconds per transaction of this process's CPU
(``python_us``) and of its PostgreSQL backend's (``postgres_us``), the median
over the blocks. Four validators each take every step but ``build`` (one of
them builds, the others check), so four times these figures is the network's
CPU per transaction before HTTP, JSON bodies and consensus messages.

Environment: COST_BLOCKS (5), COST_TXS (5000), BENCH_SENDERS (200).
"""

import io
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil


def _setup(database_url: str, genesis_path: Path) -> None:
    os.environ.update(
        DATABASE_URL=database_url,
        GTX_DEV="1",
        GTX_GENESIS=str(genesis_path),
        GTX_NODE_NAME="EGAT",
        GTX_NODE_KEY_FILE=str(genesis_path.parent / "node_key"),
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", "--noinput", verbosity=0)
    call_command("init", "--validator", "EGAT", "--demo", verbosity=0, stdout=io.StringIO())
    from gridtokenx_site.gc_tuning import tune_gc

    tune_gc()  # as the sites' daphne and workers run


class StepClock:
    """CPU seconds of this process and of the connection's PostgreSQL backend, per named step."""

    def __init__(self):
        from django.db import connection

        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend = psutil.Process(cursor.fetchone()[0])
        self.figures: dict[str, list[tuple[float, float]]] = {}

    def _now(self) -> tuple[float, float]:
        backend = self.backend.cpu_times()
        return time.process_time(), backend.user + backend.system

    def measure(self, step: str, count: int, fn, *args, **kwargs):
        before = self._now()
        result = fn(*args, **kwargs)
        after = self._now()
        self.figures.setdefault(step, []).append(
            ((after[0] - before[0]) / count * 1e6, (after[1] - before[1]) / count * 1e6)
        )
        return result

    def medians(self) -> dict:
        return {
            step: {
                "python_us": round(statistics.median(p for p, _ in runs), 1),
                "postgres_us": round(statistics.median(q for _, q in runs), 1),
            }
            for step, runs in self.figures.items()
        }


def run() -> dict:
    from bench.ledger import _env_int
    from bench.network import _sign_batch, bench_genesis

    blocks = _env_int("COST_BLOCKS", 5)
    per_block = _env_int("COST_TXS", 5000)
    n = _env_int("BENCH_SENDERS", 200)
    per_sender = max(1, per_block // n)
    tmp = Path(tempfile.mkdtemp(prefix="bench-tx-cost-"))
    bench_genesis(tmp / "genesis.toml", n)

    from localnet.databases import DEFAULT_DATABASE_URL, database_create, database_drop, database_url

    url = database_url(
        os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL), f"gtx_live_{uuid.uuid4().hex[:10]}"
    )
    database_create(url)
    try:
        _setup(url, tmp / "genesis.toml")
        return _measure(blocks, per_sender, n, _sign_batch)
    finally:
        from django.db import connections

        connections.close_all()
        database_drop(url)


def _measure(blocks: int, per_sender: int, n: int, sign_batch) -> dict:
    from django.db import transaction

    from chain.ledger.tx import parse_transaction
    from chain.models import ChainHead
    from chain.node import node_signing_key
    from chain.services import admission
    from chain.services.blocks.build import block_build
    from chain.services.blocks.check import block_check
    from chain.services.blocks.write import block_write
    from chain.services.mempool import mempool_transactions

    def parse(wires):
        return [parse_transaction(wire) for wire in wires]

    def admit(txs):
        """Admission with the signatures taken as verified: they are the ``verify`` step."""
        verify, admission._first_bad_signature = admission._first_bad_signature, lambda txs: None
        try:
            return admission.transactions_submit(txs, gossip=False)
        finally:
            admission._first_bad_signature = verify

    def write(built):
        with transaction.atomic():
            block_write(ChainHead.objects.select_for_update().get(), built, [])

    key = node_signing_key()
    chain_id = ChainHead.objects.get().chain_id
    clock = StepClock()
    for height in range(blocks):
        body, hashes = sign_batch(chain_id, list(range(n)), height * per_sender, per_sender, n)
        count = len(hashes)
        txs = clock.measure("parse", count, parse, json.loads(body))
        clock.measure("verify", count, admission._first_bad_signature, txs)
        clock.measure("admit", count, admit, txs)
        head = ChainHead.objects.get()
        built = clock.measure("build", count, block_build, key, head, 0, empty_ok=False)
        assert built is not None and len(built.txs) == count, "the block holds the whole mempool"
        pooled = clock.measure("assemble", count, mempool_transactions, chain_id, hashes)
        clock.measure(
            "check",
            count,
            block_check,
            head,
            built.header,
            [pooled[tx.hash] for tx in built.txs],  # in the block's order: senders take turns
            expected_proposer=lambda round, proposer=built.header.proposer: proposer,
            admitted=frozenset(pooled),
        )
        clock.measure("write", count, write, built)
    return {"bench": "tx_cost", "blocks": blocks, "txs_per_block": per_sender * n, **clock.medians()}


def main() -> int:
    print(json.dumps(run()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
