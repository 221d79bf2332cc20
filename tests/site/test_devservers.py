"""Where no server runs, `make run` and `make test` start real ones from pip packages and stop them."""

import subprocess
import sys

import psutil
import psycopg
import redis

from localnet import devservers


def test_embedded_servers_start_answer_and_stop(monkeypatch):
    monkeypatch.setenv("GTX_EMBEDDED", "1")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)

    with devservers.services(database="gtx_devservers_check") as env:
        db_url = env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
        with psycopg.connect(db_url) as conn:
            assert conn.execute("SELECT current_database()").fetchone()[0] == "gtx_devservers_check"
        client = redis.Redis.from_url(env["REDIS_URL"])
        assert client.ping()
        redis_pid = client.info()["process_id"]

    assert not psutil.pid_exists(redis_pid) or psutil.Process(redis_pid).status() == psutil.STATUS_ZOMBIE


def test_the_wrapper_runs_a_command_with_the_servers_it_found():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "localnet.devservers",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['DATABASE_URL'].split('/')[-1], os.environ['REDIS_URL'].startswith('redis://'))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1].endswith("True")
