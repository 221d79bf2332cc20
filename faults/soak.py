"""The demo network under a steady load for a long while: does anything grow that should not?

``python -m faults.soak --seconds 3600`` (``make soak``, ``SOAK_SECONDS``) starts the four
demo sites on fresh databases with the demo's simulators (market, grid and meters on
the first site, as ``make run`` has them), sends the fault run's workload of signed
transfers (six clients, 2.5 to 10 transfers a second each, to random sites), and
samples per site, every ``--sample-seconds``:

- memory: the resident set of the site's processes (``manage.py start``, daphne, the
  Celery workers and beat), summed;
- database: ``pg_database_size`` of the site's database, with the transactions its
  chain holds (``sum(tx_count)`` of its blocks);
- logs: the size of ``site.log`` and its rotated copies.

After a warm-up it fits a line to each figure and prints its growth per hour against
a threshold. The chain keeps every block, so a database grows with the transactions
it commits; what must stay flat is its growth per committed transaction. Exit status
1 when a figure is not flat.
"""

import argparse
import logging
import os
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import psycopg

from faults.workload import History, start_clients

DEMO_EXTRAS = {
    "GTX_DEMO_MARKET": "1",
    "GTX_DEMO_GRID": "1",
    "GTX_METERS_DEMO": "1",
    "GTX_METRICS_TOKEN": "dev-metrics",
}
HOUR_S = 3600.0


@dataclass(frozen=True)
class Thresholds:
    rss_mb_per_hour: float = 50.0
    log_mb_per_hour: float = 50.0
    db_bytes_per_tx: float = 16 * 1024


@dataclass
class Sample:
    at_s: float
    rss_bytes: int
    db_bytes: int
    chain_txs: int
    height: int
    log_bytes: int


@dataclass
class SiteSeries:
    name: str
    samples: list[Sample] = field(default_factory=list)


def site_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (0 for those gone meanwhile)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


def log_bytes(run_dir: Path) -> int:
    return sum(path.stat().st_size for path in run_dir.glob("site.log*") if path.is_file())


def database_figures(database_url: str) -> tuple[int, int, int]:
    """(database bytes, transactions in blocks, height) of one site's database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        size, txs, height = conn.execute(
            "SELECT pg_database_size(current_database()), "
            "COALESCE(sum(tx_count), 0), COALESCE(max(height), 0) FROM chain_block"
        ).fetchone()
    return int(size), int(txs), int(height)


def sample(site, zero: float) -> Sample:
    size, txs, height = database_figures(site.database_url)
    return Sample(
        at_s=time.monotonic() - zero,
        rss_bytes=site_rss(site.procs[0].pid),
        db_bytes=size,
        chain_txs=txs,
        height=height,
        log_bytes=log_bytes(site.run_dir),
    )


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value), per hour; 0 with fewer than two points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / var * HOUR_S


@dataclass
class Finding:
    site: str
    figure: str
    start: str
    end: str
    growth: str
    limit: str
    flat: bool

    def row(self) -> str:
        verdict = "flat" if self.flat else "GROWING"
        return (
            f"  {self.site:<13} {self.figure:<9} {self.start:>11} {self.end:>11} "
            f"{self.growth:>32} {self.limit:>10}  {verdict}"
        )


def judge(series: SiteSeries, warmup_s: float, limits: Thresholds) -> list[Finding]:
    """Each figure's growth after the warm-up against its threshold."""
    kept = [s for s in series.samples if s.at_s >= warmup_s] or series.samples[-2:]
    first, last = kept[0], kept[-1]
    mb = 1024 * 1024
    rss = slope_per_hour([(s.at_s, s.rss_bytes / mb) for s in kept])
    logs = slope_per_hour([(s.at_s, s.log_bytes / mb) for s in kept])
    db_growth = last.db_bytes - first.db_bytes
    txs = last.chain_txs - first.chain_txs
    per_tx = db_growth / txs if txs else float(max(db_growth, 0))
    db_per_hour = slope_per_hour([(s.at_s, s.db_bytes / mb) for s in kept])
    return [
        Finding(
            series.name,
            "memory",
            f"{first.rss_bytes / mb:.0f} MB",
            f"{last.rss_bytes / mb:.0f} MB",
            f"{rss:+.1f} MB/h",
            f"{limits.rss_mb_per_hour:.0f} MB/h",
            rss <= limits.rss_mb_per_hour,
        ),
        Finding(
            series.name,
            "database",
            f"{first.db_bytes / mb:.1f} MB",
            f"{last.db_bytes / mb:.1f} MB",
            f"{db_per_hour:+.1f} MB/h, {per_tx / 1024:.1f} KB/tx of {txs}",
            f"{limits.db_bytes_per_tx / 1024:.0f} KB/tx",
            per_tx <= limits.db_bytes_per_tx,
        ),
        Finding(
            series.name,
            "logs",
            f"{first.log_bytes / mb:.1f} MB",
            f"{last.log_bytes / mb:.1f} MB",
            f"{logs:+.1f} MB/h",
            f"{limits.log_mb_per_hour:.0f} MB/h",
            logs <= limits.log_mb_per_hour,
        ),
    ]


def soak(*, seconds: float, sample_s: float, warmup_s: float, limits: Thresholds, tmp: Path) -> bool:
    from localnet.network import start_network, stop_network

    logging.getLogger("httpx").setLevel(logging.WARNING)
    print(f"soak: starting the demo network in {tmp}", flush=True)
    sites = start_network(tmp, block_interval_ms=None, extra_env=DEMO_EXTRAS)
    try:
        urls = {site.name: site.url for site in sites}
        print("soak: " + ", ".join(f"{name} {url}" for name, url in urls.items()), flush=True)
        series = {site.name: SiteSeries(site.name) for site in sites}
        zero = time.monotonic()
        stop = threading.Event()
        history = History()
        clients = start_clients(urls, history, seed=0, stop=stop, zero=zero)
        try:
            while True:
                for site in sites:
                    point = sample(site, zero)
                    series[site.name].samples.append(point)
                    print(
                        f"soak t={point.at_s:7.1f}s {site.name:<13} rss {point.rss_bytes / 2**20:7.1f} MB  "
                        f"db {point.db_bytes / 2**20:7.1f} MB  h{point.height} {point.chain_txs} txs  "
                        f"logs {point.log_bytes / 2**20:6.2f} MB",
                        flush=True,
                    )
                if time.monotonic() - zero >= seconds:
                    break
                time.sleep(max(0.0, min(sample_s, seconds - (time.monotonic() - zero))))
        finally:
            stop.set()
            for client in clients:
                client.join(timeout=30)
        elapsed = time.monotonic() - zero
        print(
            f"soak: {elapsed:.0f}s, {len(history.acks)} transfers acknowledged "
            f"({len(history.acks) / elapsed:.1f}/s), refusals {dict(history.refusals)}",
            flush=True,
        )
        findings = [f for name in series for f in judge(series[name], warmup_s, limits)]
        print(
            f"soak: growth from {warmup_s:.0f}s (after the warm-up) to the end, fitted per hour:\n"
            f"  {'site':<13} {'figure':<9} {'start':>11} {'end':>11} {'growth':>32} {'limit':>10}  verdict",
            flush=True,
        )
        for finding in findings:
            print(finding.row(), flush=True)
        flat = all(f.flat for f in findings)
        print("soak: " + ("every figure flat" if flat else "NOT FLAT: see GROWING above"), flush=True)
        return flat
    finally:
        stop_network(sites)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="how long the load goes on")
    parser.add_argument(
        "--sample-seconds", type=float, default=None, help="between samples (default: 60, or 1/12 of the run)"
    )
    parser.add_argument(
        "--warmup-seconds",
        type=float,
        default=None,
        help="left out of the fit (default: 300, or 1/4 of the run)",
    )
    parser.add_argument("--rss-mb-per-hour", type=float, default=Thresholds.rss_mb_per_hour)
    parser.add_argument("--log-mb-per-hour", type=float, default=Thresholds.log_mb_per_hour)
    parser.add_argument("--db-bytes-per-tx", type=float, default=Thresholds.db_bytes_per_tx)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    import django

    django.setup()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    flat = soak(
        seconds=args.seconds,
        sample_s=args.sample_seconds or min(60.0, args.seconds / 12),
        warmup_s=args.warmup_seconds if args.warmup_seconds is not None else min(300.0, args.seconds / 4),
        limits=Thresholds(args.rss_mb_per_hour, args.log_mb_per_hour, args.db_bytes_per_tx),
        tmp=Path(tempfile.mkdtemp(prefix="gtx-soak-")),
    )
    sys.exit(0 if flat else 1)


if __name__ == "__main__":
    main()
