"""Start this site: daphne (HTTP + WebSockets), Celery workers and beat.

A validator's (or authority's) beat steps consensus; a follower's (``trader``, or its
alias ``observer``: a registered site that does not vote) pulls blocks the validators
did not push to it. Either serves its own users the same pages and API.

``--mining`` / ``--no-mining`` (the seed's flag): whether this validator proposes blocks,
with their proof of work. It is the chain's to know (every site must draw the same
proposer), so the command signs ``validator_set_mining`` with the node key when the chain
says otherwise; without either flag the chain's setting stays as it is.

Ctrl-C (or SIGTERM) stops every process it started, and nothing is left running.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from chain.ledger import errors
from chain.ledger.errors import Refused
from chain.models import ChainHead
from chain.refusals import refusal_text
from governance.services import node_mining_set
from localnet.processes import site_commands, stop_processes

#: --node-type values that start a follower (GTX_NODE_TYPE "follower").
FOLLOWER_TYPES = ("trader", "observer")


class Command(BaseCommand):
    help = "Start a node: --node-type validator|authority, or a follower: trader|observer."

    def add_arguments(self, parser):
        parser.add_argument(
            "--node-type", choices=["validator", "authority", *FOLLOWER_TYPES], default="validator"
        )
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2)
        parser.add_argument("--open-browser", action="store_true", help="Open the site once it answers.")
        parser.add_argument(
            "--mining",
            action=argparse.BooleanOptionalAction,
            help="Whether this validator proposes blocks (validator_set_mining, signed with the node key); "
            "--no-mining still checks and votes on every block. Default: as the chain has it.",
        )
        parser.add_argument(
            "--block-interval-ms",
            type=int,
            help="Beat's block tick (default: the chain's block interval; tests run faster).",
        )

    def handle(
        self, *args, node_type, host, port, concurrency, open_browser, block_interval_ms, mining, **options
    ):
        if mining is not None and node_type not in FOLLOWER_TYPES:
            self._set_mining(mining)
        if block_interval_ms is None:
            block_interval_ms = ChainHead.objects.get().params["block_interval_ms"]
        env = {
            **os.environ,
            "GTX_NODE_TYPE": "follower" if node_type in FOLLOWER_TYPES else node_type,
            "GTX_BLOCK_INTERVAL_MS": str(block_interval_ms),
            # This command ran Django's system checks before it got here; each Celery process
            # would run them again (URLconf and GraphQL schema included: a second of CPU each).
            "CELERY_SKIP_CHECKS": "1",
        }
        run_dir = Path(settings.GTX_NODE_KEY_FILE).parent
        run_dir.mkdir(parents=True, exist_ok=True)
        commands = site_commands(
            host=host,
            port=port,
            queue=settings.CELERY_TASK_DEFAULT_QUEUE,
            worker_name=f"gtx-{port}",
            concurrency=concurrency,
            beat_schedule=run_dir / "celerybeat-schedule",
        )
        procs = [subprocess.Popen(cmd, env=env) for cmd in commands]
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"GridTokenX {node_type} node on {url}"))
        if open_browser:
            _open_when_up(url, host, port)
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while not stopping and all(p.poll() is None for p in procs):
                time.sleep(0.3)
        finally:
            stop_processes(procs, timeout_s=15)
        failed = [p.args[2] for p in procs if p.returncode not in (0, -signal.SIGTERM, -signal.SIGINT, None)]
        if failed and not stopping:
            self.stderr.write(f"Stopped because a process exited: {failed}")

    def _set_mining(self, mining: bool) -> None:
        """Ask the chain for ``mining`` unless it already has it; the change lands with a block."""
        try:
            tx = node_mining_set(mining=mining)
        except Refused as exc:
            if exc.code != errors.BAD_FIELD:  # bad_field: the chain has it already
                self.stderr.write(refusal_text(exc.message))
            return
        what = "on" if mining else "off"
        self.stdout.write(f"Mining {what}: validator_set_mining {tx.hash[:12]}… lands with the next block.")


def _open_when_up(url: str, host: str, port: int) -> None:
    """Open the site in the person's browser once daphne answers (only where there is a screen)."""
    import socket
    import threading
    import webbrowser

    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or sys.platform == "darwin"):
        return

    def wait_and_open():
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex((host, port)) == 0:
                    webbrowser.open(url)
                    return
            time.sleep(0.2)

    threading.Thread(target=wait_and_open, daemon=True).start()
