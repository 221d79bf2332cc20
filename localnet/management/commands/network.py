"""Start a whole local network: one site per active genesis validator, on this machine, and
one follower site per inactive validator named in --followers (`make run`: the ERC's).

Each site has its own PostgreSQL database (on the server DATABASE_URL names,
called <database>_<validator>), node key (<run dir>/<validator>/node_key, the
validator's demo key with --demo), Celery queue and channel prefix, port (from the
validator's genesis url, or --base-port upwards) and GTX_PEER_URLS naming the
others; each runs ``manage.py start`` as an authority or a validator, or as an
``observer`` (a follower: it follows the chain, forwards its users' transactions to
the validators, and never votes). The demo
extras (GTX_DEMO_* and GTX_METERS_DEMO) run on the first site only. The plan and
the start are localnet.network's, which the tests' start_network shares.

Ctrl-C (or SIGTERM) stops every process of every site, and nothing is left running.
"""

import logging
import os
import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chain.ledger.genesis import GenesisError, load_genesis
from localnet import BASE_DIR
from localnet.databases import DEFAULT_DATABASE_URL, database_name
from localnet.network import Site, SitePrepareError, launch_network, plan_network
from localnet.processes import stop_processes


class Command(BaseCommand):
    help = (
        "Start a local network: one site per active genesis validator, and a follower per "
        "--followers name (Ctrl-C stops them all)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--genesis-config", default=settings.GTX_GENESIS_PATH)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--base-port", type=int, help="First site's port, the next ones follow (default: genesis urls)."
        )
        parser.add_argument("--reset", action="store_true", help="Drop and recreate every site's database.")
        parser.add_argument(
            "--followers",
            default="",
            help="Comma-separated inactive genesis validators to start as follower sites (e.g. ERC).",
        )
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker processes per site.")
        parser.add_argument("--run-dir", default=str(BASE_DIR / ".node"), help="Node keys and logs.")
        parser.add_argument(
            "--open-browser", action="store_true", help="Open the first site once it answers."
        )
        parser.add_argument(
            "--demo",
            action="store_true",
            help="Demo node keys, demo logins and an admin (public password). Without it each "
            "site needs its own key file at <run-dir>/<validator>/node_key.",
        )

    def handle(
        self,
        *args,
        genesis_config,
        host,
        base_port,
        reset,
        concurrency,
        run_dir,
        open_browser,
        demo,
        followers,
        **options,
    ):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness poll
        base_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        try:
            known = {v["name"] for v in load_genesis(genesis_config).validators}
            followers = [name.strip() for name in followers.split(",") if name.strip()]
            if unknown := set(followers) - known:
                raise CommandError(f"--followers: the genesis has no validator {sorted(unknown)}")
            sites = plan_network(
                genesis_config,
                base_url=base_url,
                host=host,
                base_port=base_port,
                run_dir=Path(run_dir),
                followers=followers,
            )
            launch_network(
                sites,
                genesis_config,
                demo=demo,
                reset=reset,
                concurrency=concurrency,
                open_browser=open_browser,
            )
        except (GenesisError, ValueError, SitePrepareError) as exc:
            raise CommandError(str(exc)) from exc
        self._table(sites)
        self._serve(sites)

    def _table(self, sites: list[Site]) -> None:
        rows = [("site", "URL", "role", "database")]
        rows += [(s.name, s.url + "/", s.role, database_name(s.database_url)) for s in sites]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = ["", f"  GridTokenX local network: {len(sites)} sites (Ctrl-C stops them all)"]
        for row in rows:
            lines.append("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        lines.append(f"  Logs: {sites[0].run_dir.parent}/<site>/site.log (rotated: GTX_SITE_LOG_MAX_BYTES)")
        self.stdout.write("\n".join(lines) + "\n")
        self.stdout.flush()

    def _serve(self, sites: list[Site]) -> None:
        procs = [proc for site in sites for proc in site.procs]
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        waiting = set(range(len(sites)))
        try:
            while not stopping and all(p.poll() is None for p in procs):
                for index in sorted(waiting):
                    if sites[index].up():
                        waiting.discard(index)
                        if not waiting:
                            self.stdout.write(self.style.SUCCESS(f"  All {len(sites)} sites answer."))
                            self.stdout.flush()
                time.sleep(0.5)
        finally:
            stop_processes(procs, timeout_s=30)
        exited = [s.name for s, p in zip(sites, procs, strict=True) if p.returncode not in (0, None)]
        if exited and not stopping:
            raise CommandError(
                f"Stopped the network because a site exited: {', '.join(exited)} (see its site.log)"
            )
