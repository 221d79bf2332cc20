"""A whole real site in its own processes, for tests and benchmarks.

``start_site`` creates a fresh PostgreSQL database, migrates it, initialises
the demo chain and starts daphne, a Celery worker and beat on a free port,
with their own Celery queue and channel prefix so that several sites can share
one Redis. ``stop_site`` stops every process it started and drops the database.
"""

import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg

from gridtokenx_site.devservers import free_port
from gridtokenx_site.processes import site_commands

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/gridtokenx"


def _db_url(name: str) -> str:
    parts = urlsplit(os.environ.get("DATABASE_URL", DEFAULT_DB_URL))
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin_conn():
    url = _db_url("postgres").replace("postgres://", "postgresql://", 1)
    return psycopg.connect(url, autocommit=True)


@dataclass
class LiveSite:
    url: str
    ws_url: str
    env: dict
    database_url: str

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kwargs)

    def wait_for(self, predicate, timeout: float = 15.0, interval: float = 0.2):
        """Poll ``predicate`` until it returns something truthy (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s")


def prepare_site(tmp: Path, *, block_interval_ms: int = 300, extra_env: dict | None = None) -> dict:
    """A fresh database, migrated and holding the demo chain; returns the site's environment.

    The site gets its own Celery queue and channel prefix, so sites share one Redis.
    ``extra_env`` overrides settings (benchmarks keep DB connections open).
    """
    name = f"gtx_live_{uuid.uuid4().hex[:10]}"
    with _admin_conn() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": _db_url(name),
        "GTX_DEV": "1",
        "GTX_TEST_FAST_HASHER": "1",
        "GTX_NODE_KEY_FILE": str(tmp / "node_key"),
        "GTX_CELERY_QUEUE": f"gtx-test-{tag}",
        "GTX_CHANNEL_PREFIX": f"gtx-test-{tag}",
        "GTX_BLOCK_INTERVAL_MS": str(block_interval_ms),
        "DB_CONN_MAX_AGE": "0",
        **(extra_env or {}),
    }
    manage = str(BASE_DIR / "manage.py")
    for cmd in (["migrate", "--noinput", "-v0"], ["init", "--validator", "EGAT", "--demo"]):
        subprocess.run(
            [sys.executable, manage, *cmd], env=env, check=True, cwd=BASE_DIR, stdout=subprocess.DEVNULL
        )
    return env


def drop_database(database_url: str) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    with _admin_conn() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_site(
    tmp: Path, *, block_interval_ms: int = 300, extra_env: dict | None = None
) -> tuple[LiveSite, list[subprocess.Popen]]:
    """Start daphne, a Celery worker and beat on a free port over a fresh ``prepare_site``."""
    env = prepare_site(tmp, block_interval_ms=block_interval_ms, extra_env=extra_env)
    port = free_port()
    tag = env["GTX_CELERY_QUEUE"].removeprefix("gtx-test-")
    log = open(tmp / "site.log", "w")  # noqa: SIM115 - closed with the processes
    commands = site_commands(
        host="127.0.0.1",
        port=port,
        queue=env["GTX_CELERY_QUEUE"],
        worker_name=tag,
        beat_schedule=tmp / "beat-schedule",
    )
    procs = [
        subprocess.Popen(cmd, env=env, cwd=BASE_DIR, stdout=log, stderr=subprocess.STDOUT) for cmd in commands
    ]
    site = LiveSite(f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}", env, env["DATABASE_URL"])

    def up():
        try:
            return site.get("/api/v1/status/").status_code == 200
        except httpx.HTTPError:
            return False

    site.wait_for(up, timeout=30)
    return site, procs


def stop_site(site: LiveSite, procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
    drop_database(site.database_url)
