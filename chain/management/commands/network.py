"""Start a whole local network: one site per active genesis validator, on this machine.

Each site has its own PostgreSQL database (on the server DATABASE_URL names,
called <database>_<validator>), node key (.node/<validator>/node_key, the
validator's demo key), Celery queue and channel prefix, port (from the
validator's genesis url, or --base-port upwards) and GTX_PEER_URLS naming the
others; each runs ``manage.py start`` as an authority or a validator. The demo
extras (GTX_DEMO_* and GTX_METERS_DEMO) run on the first site only.

Ctrl-C (or SIGTERM) stops every process of every site, and nothing is left running.
"""

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chain.ledger.genesis import GenesisError, load_genesis
from gridtokenx_site.databases import (
    database_create,
    database_drop,
    database_exists,
    database_name,
    database_url,
)
from gridtokenx_site.logs import site_log
from gridtokenx_site.processes import stop_processes

BASE_DIR = Path(settings.BASE_DIR)
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/gridtokenx"
#: Environment switches for demo extras that must run once per network, not once per site.
DEMO_ONLY_FIRST = ("GTX_DEMO_", "GTX_METERS_DEMO")


@dataclass
class Site:
    name: str
    role: str  # "authority" or "validator": the --node-type of `manage.py start`
    port: int
    database_url: str
    run_dir: Path
    env: dict
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())


def network_sites(
    genesis_path: str,
    *,
    base_url: str,
    host: str = "127.0.0.1",
    base_port: int | None = None,
    run_dir: Path = BASE_DIR / ".node",
    environ: dict | None = None,
) -> list["Site"]:
    """The plan of the network: one Site per active validator of the genesis, in genesis order."""
    genesis = load_genesis(genesis_path)
    active = [v for v in genesis.validators if v["active"]]
    base_name = database_name(base_url)
    ports = []
    for index, v in enumerate(active):
        genesis_port = urlsplit(v.get("url") or "").port
        ports.append(base_port + index if base_port is not None or genesis_port is None else genesis_port)
    if len(set(ports)) != len(ports):
        raise CommandError(f"Two sites would share a port: {ports}. Give --base-port.")
    environ = dict(os.environ if environ is None else environ)
    sites = []
    for index, (v, port) in enumerate(zip(active, ports, strict=True)):
        slug = _slug(v["name"])
        env = {
            key: value for key, value in environ.items() if index == 0 or not key.startswith(DEMO_ONLY_FIRST)
        }
        site_dir = run_dir / slug
        env.update(
            {
                "DATABASE_URL": database_url(base_url, f"{base_name}_{slug}"),
                "GTX_GENESIS": str(Path(genesis_path).resolve()),
                "GTX_NODE_NAME": v["name"],
                "GTX_NODE_KEY_FILE": str(site_dir / "node_key"),
                "GTX_CELERY_QUEUE": f"gtx-{slug}",
                "GTX_CHANNEL_PREFIX": f"gtx-{slug}",
            }
        )
        sites.append(
            Site(
                name=v["name"],
                role="authority" if v.get("authority") else "validator",
                port=port,
                database_url=env["DATABASE_URL"],
                run_dir=site_dir,
                env=env,
                host=host,
            )
        )
    for site in sites:
        site.env["GTX_PEER_URLS"] = ",".join(f"{o.name}={o.url}" for o in sites if o is not site)
    return sites


def prepare_steps(genesis_config: str, *, demo: bool) -> list[list[str]]:
    """The manage.py commands that prepare each site; ``{name}`` is the site's validator.

    Only with ``demo`` does `init` get --demo: public demo keys, logins and an admin
    otherwise never exist on a site.
    """
    init = ["init", "--genesis-config", str(genesis_config), "--validator", "{name}"]
    return [["migrate", "--noinput", "-v0"], init + (["--demo"] if demo else [])]


class Command(BaseCommand):
    help = "Start a local network: one site per active genesis validator (Ctrl-C stops them all)."

    def add_arguments(self, parser):
        parser.add_argument("--genesis-config", default=settings.GTX_GENESIS_PATH)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--base-port", type=int, help="First site's port, the next ones follow (default: genesis urls)."
        )
        parser.add_argument("--reset", action="store_true", help="Drop and recreate every site's database.")
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
        **options,
    ):
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per readiness poll
        base_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
        try:
            sites = network_sites(
                genesis_config, base_url=base_url, host=host, base_port=base_port, run_dir=Path(run_dir)
            )
        except GenesisError as exc:
            raise CommandError(str(exc)) from exc
        self._prepare(sites, genesis_config, reset, demo=demo)
        procs = self._start(sites, concurrency, open_browser)
        self._table(sites)
        self._serve(sites, procs)

    def _prepare(self, sites: list[Site], genesis_config: str, reset: bool, *, demo: bool) -> None:
        """Create, migrate and initialise every site's database, all sites at once."""
        for site in sites:
            site.run_dir.mkdir(parents=True, exist_ok=True)
            if reset and database_exists(site.database_url):
                database_drop(site.database_url)
                for stale in site.run_dir.glob("celerybeat-schedule*"):
                    stale.unlink()
            database_create(site.database_url)
        manage = [sys.executable, str(BASE_DIR / "manage.py")]
        for step in prepare_steps(genesis_config, demo=demo):
            running = []
            for site in sites:
                log = open(site.run_dir / "prepare.log", "a")  # noqa: SIM115 - closed below
                cmd = [*manage, *(arg.format(name=site.name) for arg in step)]
                running.append((site, log, subprocess.Popen(cmd, env=site.env, stdout=log, stderr=log)))
            failed = []
            for site, log, proc in running:
                proc.wait()
                log.close()
                if proc.returncode != 0:
                    failed.append(site)
            if failed:
                details = "\n".join(
                    f"--- {s.name} ({s.run_dir / 'prepare.log'}):\n"
                    + (s.run_dir / "prepare.log").read_text()[-1500:]
                    for s in failed
                )
                hint = " (a database of another genesis? --reset starts afresh)" if step[0] == "init" else ""
                raise CommandError(
                    f"{step[0]} failed for {', '.join(s.name for s in failed)}{hint}\n{details}"
                )

    def _start(self, sites: list[Site], concurrency: int, open_browser: bool) -> list[subprocess.Popen]:
        procs = []
        for index, site in enumerate(sites):
            cmd = [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "start",
                "--node-type",
                site.role,
                "--host",
                site.host,
                "--port",
                str(site.port),
                "--concurrency",
                str(concurrency),
            ]
            if open_browser and index == 0:
                cmd.append("--open-browser")
            log = site_log(site.run_dir / "site.log")
            procs.append(subprocess.Popen(cmd, env=site.env, stdout=log.output, stderr=subprocess.STDOUT))
            log.started()
        return procs

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

    def _serve(self, sites: list[Site], procs: list[subprocess.Popen]) -> None:
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
                    if _answers(sites[index].url):
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


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/api/v1/status/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
