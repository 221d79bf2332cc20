"""Management commands: init (idempotent, one genesis per database), status, start/stop."""

import json
import os
import signal
import stat
import subprocess
import sys
import time
from io import StringIO

import httpx
import psutil
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.tx import sign_transaction
from chain.models import Account, ChainHead, MempoolTx, Validator, Wallet
from chain.node import node_signing_key
from chain.services.admission import transactions_submit
from localnet import BASE_DIR
from localnet.databases import database_drop
from localnet.devservers import free_port
from localnet.network import prepare_site, prepare_steps
from tests.conftest import GENESIS_PATH


def run(command: str, *args) -> str:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def chain_rows() -> dict:
    return {
        "head": ChainHead.objects.values().get(),
        "accounts": list(Account.objects.order_by("address").values()),
        "validators": list(Validator.objects.order_by("public_key").values()),
        "users": sorted(get_user_model().objects.values_list("username", flat=True)),
        "wallets": sorted(Wallet.objects.values_list("address", flat=True)),
    }


@pytest.fixture
def initialised(db, node_key):
    run("init", "--genesis-config", str(GENESIS_PATH), "--validator", "EGAT", "--demo")


def test_init_writes_the_genesis_state_and_demo_users(initialised, genesis):
    head = ChainHead.objects.get()
    assert (head.chain_id, head.height, head.genesis_hash) == (genesis.chain_id, 0, genesis.hash)
    assert Account.objects.count() == len(
        {a["address"] for a in genesis.accounts} | {v["public_key"] for v in genesis.validators}
    )
    assert get_user_model().objects.filter(username="factory_rayong", wallet__isnull=False).exists()


def test_init_again_with_the_same_genesis_changes_nothing(initialised):
    before = chain_rows()

    output = run("init", "--genesis-config", str(GENESIS_PATH), "--validator", "EGAT", "--demo")

    assert chain_rows() == before
    assert "height 0" in output


def test_init_refuses_another_genesis_on_an_initialised_database(initialised, tmp_path):
    other = tmp_path / "other.toml"
    other.write_text(
        GENESIS_PATH.read_text().replace('chain_id = "gridtokenx-th-demo-1"', 'chain_id = "x-1"')
    )
    before = chain_rows()

    with pytest.raises(CommandError, match="another genesis"):
        run("init", "--genesis-config", str(other))

    assert chain_rows() == before


def test_init_refuses_a_genesis_file_it_cannot_read(db, node_key, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("chain_id = [")

    with pytest.raises(CommandError, match="Cannot read genesis"):
        run("init", "--genesis-config", str(broken))

    assert not ChainHead.objects.exists()


def test_status_reports_height_mempool_and_peers(initialised, produce, genesis):
    to = next(a["address"] for a in genesis.accounts if a["username"] == "home_malee")
    transfers = [
        sign_transaction(
            demo_key("wind_korat"),
            chain_id=genesis.chain_id,
            nonce=n,
            kind="transfer",
            payload={"to": to, "amount": 1},
        ).to_wire()
        for n in range(3)
    ]
    transactions_submit(transfers[:2])
    produce()
    transactions_submit(transfers[2:])

    status = json.loads(run("status", "--json"))
    text = run("status")

    assert status["height"] == 1
    assert status["mempool_size"] == MempoolTx.objects.count() == 1
    assert status["chain_id"] == genesis.chain_id
    assert status["peers"] == 0  # the only active validator is this site
    assert status["last_block_at"] is not None
    assert "mempool_size: 1" in text


# --- start: real processes ---------------------------------------------------------


def _start(tmp_path):
    env = prepare_site(tmp_path).env
    port = free_port()
    log = open(tmp_path / "start.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "start",
            "--node-type",
            "validator",
            "--port",
            str(port),
        ],
        env=env,
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return env, port, proc, log


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _serving(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/status/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _roles(processes) -> set[str]:
    roles = set()
    for p in processes:
        try:
            cmdline = " ".join(p.cmdline())
        except psutil.NoSuchProcess:
            continue
        for role in ("daphne", "worker", "beat"):
            if role in cmdline:
                roles.add(role)
    return roles


@pytest.mark.live
@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_start_runs_daphne_worker_and_beat_and_a_signal_stops_them_all(tmp_path, stop_signal):
    env, port, proc, log = _start(tmp_path)
    started = psutil.Process(proc.pid)
    try:
        assert _wait(lambda: _serving(port), 40), (tmp_path / "start.log").read_text()
        assert _wait(lambda: _roles(started.children(recursive=True)) == {"daphne", "worker", "beat"}, 20)
        descendants = started.children(recursive=True)

        proc.send_signal(stop_signal)
        proc.wait(timeout=40)

        gone, alive = psutil.wait_procs(descendants, timeout=20)
        assert alive == []
        assert proc.returncode == 0
        assert not _serving(port)
    finally:
        if proc.poll() is None:
            for child in started.children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()
        log.close()
        database_drop(env["DATABASE_URL"])


# --- demo only when asked (issue 14, finding 6) ---------------------------------------


def test_a_production_init_writes_a_fresh_node_key_only_its_owner_reads_and_no_users(db, settings, tmp_path):
    settings.GTX_NODE_KEY_FILE = str(tmp_path / "keys" / "node_key")
    old_umask = os.umask(0o022)  # a usual umask would leave a new file readable by everyone
    try:
        output = run("init", "--genesis-config", str(GENESIS_PATH))
    finally:
        os.umask(old_umask)
        node_signing_key.cache_clear()

    key_file = tmp_path / "keys" / "node_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    seed = key_file.read_text().strip()
    demo_seeds = {demo_key(v["name"]).encode().hex() for v in load_genesis(GENESIS_PATH).validators}
    assert len(seed) == 64 and seed not in demo_seeds
    assert get_user_model().objects.count() == 0  # no demo logins, no admin
    assert not Wallet.objects.exists()
    assert "Demo users" not in output


def test_init_outside_a_demo_refuses_a_validator_without_its_own_key_file(db, settings, tmp_path):
    settings.GTX_NODE_KEY_FILE = str(tmp_path / "node_key")
    with pytest.raises(CommandError, match="its own key file"):
        run("init", "--genesis-config", str(GENESIS_PATH), "--validator", "EGAT")
    assert not (tmp_path / "node_key").exists()
    assert not get_user_model().objects.exists()


def test_network_passes_demo_to_init_only_when_asked():
    def init_step(demo):
        return next(step for step in prepare_steps("g.toml", demo=demo) if step[0] == "init")

    assert "--demo" not in init_step(demo=False)
    assert "--demo" in init_step(demo=True)


def test_make_run_asks_for_the_demo():
    run_target = (BASE_DIR / "Makefile").read_text().split("\nrun:")[1].split("\n\n")[0]
    assert "manage.py network --demo" in run_target
