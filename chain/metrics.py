"""Prometheus metrics of a site: what its chain, consensus and intake are doing.

Two kinds of figure, both served at /metrics (chain.views.metrics):

- read from the database at scrape time (``ChainCollector``): height, round and
  step, mempool size, supply, validators, peers up, and quantiles of block
  interval, block size and finality over the last blocks. Every process of a
  site sees the same database, so these are the site's figures whichever
  process serves the scrape.
- counted in the process that serves intake (``intake_counted``): transactions
  admitted and refused by code, and batches its door refused unread
  (``door_refusal_counted``). They start at zero when daphne restarts, which
  Prometheus's ``rate()`` expects of a counter.

Both live in ``REGISTRY``, this module's own registry: nothing is registered as an
import side effect in prometheus_client's global one.
"""

import math
from datetime import UTC, datetime

from django.db import connection
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily

from chain import selectors
from chain.models import ScalingDecision
from chain.services.admission import IntakeHead, intake_limit

REGISTRY = CollectorRegistry()

#: Quantiles are read over this many newest blocks (and their transactions).
WINDOW_BLOCKS = 100
QUANTILES = (0.5, 0.95, 0.99)

INTAKE_ADMITTED = Counter(
    "gtx_intake_admitted_transactions",
    "Transactions this site admitted from clients (POST /api/v1/transactions/).",
    registry=REGISTRY,
)
INTAKE_REFUSED = Counter(
    "gtx_intake_refused_transactions",
    "Transactions this site refused from clients, by the refusal code of the batch.",
    ["code"],
    registry=REGISTRY,
)
INTAKE_REFUSED_UNREAD = Counter(
    "gtx_intake_refused_unread_batches",
    "Client batches the intake door refused before reading them (chain.api.shed), by code: "
    "their transactions are not counted, as they were not read.",
    ["code"],
    registry=REGISTRY,
)


def intake_counted(*, admitted: int = 0, refused: int = 0, code: str = "") -> None:
    if admitted:
        INTAKE_ADMITTED.inc(admitted)
    if refused:
        INTAKE_REFUSED.labels(code=code).inc(refused)


def door_refusal_counted(code: str) -> None:
    INTAKE_REFUSED_UNREAD.labels(code=code).inc()


def _quantiles(values: list[float]) -> dict[float, float]:
    """Nearest-rank quantiles of ``values`` (empty when there are none)."""
    if not values:
        return {}
    ordered = sorted(values)
    return {q: ordered[max(0, math.ceil(q * len(ordered)) - 1)] for q in QUANTILES}


def _quantile_family(name: str, documentation: str, values: list[float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=["quantile"])
    for q, value in _quantiles(values).items():
        family.add_metric([str(q)], value)
    return family


def recent_blocks() -> tuple[list[float], list[int], list[float]]:
    """Block intervals (s), block sizes (transactions) and finality (s) over the newest blocks.

    Finality is from this site's intake of a transaction to the timestamp of the
    block that committed it; a transaction this site only learnt from a block has
    no intake time of its own and is left out.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT height, timestamp_ms, tx_count FROM chain_block ORDER BY height DESC LIMIT %s",
            [WINDOW_BLOCKS + 1],
        )
        rows = cursor.fetchall()
        # Transactions of the newest WINDOW_BLOCKS blocks (the extra row only dates the first interval).
        oldest = rows[WINDOW_BLOCKS][0] if len(rows) > WINDOW_BLOCKS else -1
        cursor.execute(
            "SELECT b.timestamp_ms - (EXTRACT(EPOCH FROM t.received_at) * 1000)::bigint"
            " FROM chain_chaintx t JOIN chain_block b ON b.height = t.block_id"
            " WHERE t.block_id > %s AND t.received_at IS NOT NULL",
            [oldest],
        )
        finality = [max(0, ms) / 1000 for (ms,) in cursor.fetchall()]
    intervals = [(newer[1] - older[1]) / 1000 for newer, older in zip(rows, rows[1:], strict=False)]
    sizes = [row[2] for row in rows[:WINDOW_BLOCKS]]
    return intervals, sizes, finality


#: (metric, help, key of selectors.node_status()) read at each scrape.
STATUS_GAUGES = (
    ("gtx_chain_height", "Height of the newest committed block.", "height"),
    ("gtx_consensus_round", "Round of the height being decided (0 before it starts).", "round"),
    ("gtx_mempool_transactions", "Transactions waiting in this site's mempool.", "mempool_size"),
    ("gtx_validators_active", "Validators in the active set.", "active_validators"),
    ("gtx_peers", "Peer sites this site is configured with.", "peers"),
    ("gtx_peers_up", "Peers that answered this site lately.", "peers_up"),
    ("gtx_evidence", "Double-sign evidence recorded.", "evidence"),
)


class ChainCollector:
    """The site's chain figures, read from the database at each scrape."""

    def collect(self):
        status = selectors.node_status()
        for name, documentation, key in STATUS_GAUGES:
            yield GaugeMetricFamily(name, documentation, value=status[key])
        consensus_figures = status["consensus_metrics"]
        for key in ("total_stake", "missed_blocks", "rounds_completed"):
            documentation = f"{key.replace('_', ' ').capitalize()} (the seed's ConsensusMetrics)."
            yield GaugeMetricFamily(f"gtx_{key}", documentation, value=consensus_figures[key])
        step = GaugeMetricFamily("gtx_consensus_step", "1 for the step consensus is in.", labels=["step"])
        step.add_metric([status["step"]], 1)  # node_status read it once, above
        yield step
        yield from _scaling_families(status["scaling"])
        head = selectors.chain_head()
        since = (datetime.now(UTC) - head.last_block_at).total_seconds() if head.last_block_at else 0
        yield GaugeMetricFamily("gtx_seconds_since_last_block", "Seconds since the last commit.", value=since)
        supply = head.total_supply
        yield GaugeMetricFamily("gtx_total_supply_units", "Tokens in existence, smallest unit.", value=supply)
        yield GaugeMetricFamily(
            "gtx_intake_room_transactions",
            "Transactions the mempool may hold for clients now: what the newest blocks finalized in "
            "GTX_INTAKE_TARGET_MS, within its floor and GTX_MEMPOOL_MAX (a batch the door found room "
            "for may take it to twice that).",
            value=intake_limit(IntakeHead(head.chain_id, head.height, head.params)),  # the head read above
        )
        intervals, sizes, finality = recent_blocks()
        window = f"last {WINDOW_BLOCKS} blocks"
        yield _quantile_family("gtx_block_interval_seconds", f"Time between blocks, {window}.", intervals)
        yield _quantile_family("gtx_block_transactions", f"Transactions per block, {window}.", sizes)
        yield _quantile_family("gtx_finality_seconds", f"Intake here to block timestamp, {window}.", finality)


REGISTRY.register(ChainCollector())


def _scaling_families(scaling: dict):
    """The scaling coordinator's shard count, each shard's measured load and backlog, and the
    number of its decisions (chain.services.scaling)."""
    yield GaugeMetricFamily(
        "gtx_active_shards", "Intake shards in use (1 when unsharded).", value=scaling["active_shards"]
    )
    load = GaugeMetricFamily(
        "gtx_shard_load", "A shard's busy share of the window, backlog counted.", labels=["shard"]
    )
    backlog = GaugeMetricFamily("gtx_shard_backlog", "Batches waiting in a shard's queue.", labels=["shard"])
    for shard in scaling["measurement"].get("shards", []):
        load.add_metric([str(shard["shard"])], shard["load"])
        backlog.add_metric([str(shard["shard"])], shard["backlog"])
    yield load
    yield backlog
    yield GaugeMetricFamily(
        "gtx_scaling_decisions",
        "Shard count changes the coordinator made.",
        value=ScalingDecision.objects.count(),
    )
