"""A local network of sites: the peers setting, `manage.py network`, and the testsite helpers."""

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import uuid

import httpx
import psutil
import pytest
from django.core.exceptions import ImproperlyConfigured

from chain.ledger.genesis import demo_key, load_genesis
from chain.ledger.keys import address_of
from chain.ledger.tx import sign_transaction
from chain.models import Validator
from chain.peers import peer_url, peer_urls
from gridtokenx_site.settings import _peer_urls
from localnet import BASE_DIR
from localnet.databases import database_drop, database_exists, database_url
from localnet.devservers import free_port
from localnet.genesis_files import DEMO_GENESIS, genesis_with_active, solo_genesis
from localnet.network import (
    kill_site,
    plan_network,
    restart_site,
    start_network,
    start_site,
    stop_network,
    stop_site,
    wait_for_height,
)

THREE = ["EGAT", "MEA", "PEA"]


def _validators(path) -> dict[str, dict]:
    return {v["name"]: v for v in tomllib.loads(path.read_text())["validators"]}


# --- genesis files -----------------------------------------------------------------


def test_solo_genesis_keeps_only_egat_active_and_everything_else(tmp_path):
    four = genesis_with_active(DEMO_GENESIS, ["EGAT", "MEA", "PEA", "ERC"], tmp_path / "four.toml")

    solo = solo_genesis(tmp_path, source=four)

    assert {n for n, v in _validators(solo).items() if v["active"]} == {"EGAT"}
    raw_solo, raw_four = tomllib.loads(solo.read_text()), tomllib.loads(four.read_text())
    for v in raw_solo["validators"] + raw_four["validators"]:
        del v["active"]
    assert raw_solo == raw_four
    assert load_genesis(solo).chain_id == load_genesis(DEMO_GENESIS).chain_id


def test_genesis_with_active_refuses_an_unknown_validator(tmp_path):
    with pytest.raises(ValueError, match="NOPE"):
        genesis_with_active(DEMO_GENESIS, ["EGAT", "NOPE"], tmp_path / "x.toml")
    assert not (tmp_path / "x.toml").exists()


# --- GTX_PEER_URLS and chain.peers ---------------------------------------------------------


def test_the_peer_urls_setting_parses_names_and_urls():
    assert _peer_urls(" EGAT=http://127.0.0.1:8000/, MEA=https://mea.example:443 ,") == {
        "EGAT": "http://127.0.0.1:8000",
        "MEA": "https://mea.example:443",
    }
    assert _peer_urls("") == {}


@pytest.mark.parametrize("bad", ["EGAT", "=http://x:1", "EGAT=127.0.0.1:8000", "EGAT=ftp://x"])
def test_the_peer_urls_setting_refuses_what_is_not_name_equals_url(bad):
    with pytest.raises(ImproperlyConfigured, match="GTX_PEER_URLS"):
        _peer_urls(bad)


def test_peer_urls_are_the_other_active_validators_with_settings_over_genesis(chain, genesis, settings):
    keys = {v["name"]: v["public_key"] for v in genesis.validators}
    urls = {v["name"]: v["url"] for v in genesis.validators}
    Validator.objects.filter(name__in=["MEA", "PEA"]).update(active=True)
    settings.GTX_PEER_URLS = {"MEA": "http://127.0.0.1:9101", "NOT_A_VALIDATOR": "http://127.0.0.1:9"}

    peers = peer_urls()

    assert peers == {keys["MEA"]: "http://127.0.0.1:9101", keys["PEA"]: urls["PEA"]}
    assert keys["EGAT"] not in peers  # this site (the node key is EGAT's)
    assert peer_urls(include_self=True)[keys["EGAT"]] == urls["EGAT"]
    assert peer_url(keys["ERC"]) == urls["ERC"]  # inactive, but known
    assert peer_url("00" * 32) is None


def test_peer_urls_of_a_solo_chain_are_empty(chain):
    assert peer_urls() == {}


# --- the network command's plan -------------------------------------------------------


def test_the_network_plan_has_one_site_per_active_validator(tmp_path):
    path = genesis_with_active(DEMO_GENESIS, ["EGAT", "MEA", "PEA", "ERC"], tmp_path / "g.toml")
    base = "postgres://postgres@/gridtokenx?host=/tmp/pgsock"
    environ = {"PATH": "/bin", "GTX_DEMO_MARKET": "1", "GTX_METERS_DEMO": "1"}

    sites = plan_network(str(path), base_url=base, run_dir=tmp_path / "node", environ=environ)

    validators = _validators(path)
    assert [(s.name, s.role, s.url) for s in sites] == [
        (n, "authority" if validators[n]["authority"] else "validator", validators[n]["url"])
        for n in ("EGAT", "MEA", "PEA", "ERC")
    ]
    # Same server (the embedded one's socket), a database each.
    assert [s.database_url for s in sites] == [
        f"postgres://postgres@/gridtokenx_{n}?host=/tmp/pgsock" for n in ("egat", "mea", "pea", "erc")
    ]
    assert (
        len({s.env["GTX_CELERY_QUEUE"] for s in sites})
        == len({s.env["GTX_CHANNEL_PREFIX"] for s in sites})
        == 4
    )
    assert len({s.env["GTX_NODE_KEY_FILE"] for s in sites}) == 4
    assert sites[1].env["GTX_PEER_URLS"] == ",".join(
        f"{n}={validators[n]['url']}" for n in ("EGAT", "PEA", "ERC")
    )
    assert sites[0].env["GTX_DEMO_MARKET"] == sites[0].env["GTX_METERS_DEMO"] == "1"
    assert not any(k.startswith(("GTX_DEMO_", "GTX_METERS")) for s in sites[1:] for k in s.env)

    moved = plan_network(str(path), base_url=base, base_port=9200, environ=environ)
    assert [s.port for s in moved] == [9200, 9201, 9202, 9203]


def test_the_network_plan_starts_named_inactive_validators_as_followers(tmp_path):
    """`make run` (`network --followers ERC`): the ERC's site follows, after the validators."""
    base = "postgres://postgres@/gridtokenx?host=/tmp/pgsock"

    sites = plan_network(DEMO_GENESIS, base_url=base, run_dir=tmp_path, environ={}, followers=["ERC"])

    validators = _validators(DEMO_GENESIS)
    assert [(s.name, s.role) for s in sites] == [
        ("EGAT", "authority"),
        ("MEA", "authority"),
        ("PEA", "authority"),
        ("SIAM_TRADERS", "validator"),
        ("ERC", "observer"),
    ]
    assert sites[-1].url == validators["ERC"]["url"]
    assert all(f"ERC={validators['ERC']['url']}" in s.env["GTX_PEER_URLS"] for s in sites[:-1])
    with pytest.raises(ValueError, match="not followers"):
        plan_network(DEMO_GENESIS, base_url=base, run_dir=tmp_path, environ={}, followers=["EGAT"])


def test_sites_behind_relays_are_reached_at_their_hosts_and_bind_another(tmp_path):
    """faults/hosts.py: daphne on the namespace's loopback, peers and clients at its address."""
    addresses = ["10.9.9.1", "10.9.9.2", "10.9.9.3", "10.9.9.4"]

    sites = plan_network(
        DEMO_GENESIS,
        base_url="postgres://postgres@127.0.0.1:5432/gridtokenx",
        hosts=addresses,
        bind_host="127.0.0.1",
        ports=[8400, 8401, 8402, 8403],
        environ={},
    )

    assert [s.url for s in sites] == [f"http://{a}:{8400 + k}" for k, a in enumerate(addresses)]
    assert {s.bind_host for s in sites} == {"127.0.0.1"}
    assert sites[0].env["GTX_PEER_URLS"] == (
        "MEA=http://10.9.9.2:8401,PEA=http://10.9.9.3:8402,SIAM_TRADERS=http://10.9.9.4:8403"
    )


# --- real processes ------------------------------------------------------------------


def _free_run(count: int) -> int:
    """A first port with ``count`` free ports from it, outside 8000-8010."""
    while True:
        first = free_port()
        if first + count >= 65535 or first <= 8010 < first + count:
            continue
        if all(_free(first + i) for i in range(count)):
            return first


def _free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _status(url: str) -> dict | None:
    try:
        response = httpx.get(url + "/api/v1/status/", timeout=3)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _wait(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    return None


@pytest.mark.live
def test_network_without_demo_makes_no_demo_key_login_or_admin(tmp_path):
    """Without --demo each site needs its own node key: none is made from the public demo seeds."""
    genesis = genesis_with_active(DEMO_GENESIS, ["EGAT"], tmp_path / "genesis.toml")
    base = database_url(os.environ["DATABASE_URL"], f"gtx_nettest_{uuid.uuid4().hex[:8]}")
    database = database_url(base, f"{base.rsplit('/', 1)[1]}_egat")
    command = [sys.executable, str(BASE_DIR / "manage.py"), "network", "--genesis-config", str(genesis)]
    try:
        result = subprocess.run(
            [*command, "--base-port", str(free_port()), "--run-dir", str(tmp_path / "node")],
            env={**os.environ, "DATABASE_URL": base},
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode != 0
        assert "init failed for EGAT" in result.stderr and "its own key file" in result.stderr
        assert not (tmp_path / "node" / "egat" / "node_key").exists()
        users = subprocess.run(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "shell",
                "-c",
                "from django.contrib.auth.models import User; print(User.objects.count())",
            ],
            env={**os.environ, "DATABASE_URL": database},
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert users.stdout.strip().splitlines()[-1] == "0", users.stdout + users.stderr
    finally:
        database_drop(database)


@pytest.mark.live
def test_network_starts_a_site_per_validator_and_sigterm_stops_every_process(tmp_path):
    genesis = genesis_with_active(DEMO_GENESIS, THREE, tmp_path / "genesis.toml")
    base_port = _free_run(len(THREE))
    base = database_url(os.environ["DATABASE_URL"], f"gtx_nettest_{uuid.uuid4().hex[:8]}")
    env = {**os.environ, "DATABASE_URL": base, "GTX_TEST_FAST_HASHER": "1", "GTX_DEMO_MARKET": "1"}
    log = open(tmp_path / "network.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            str(BASE_DIR / "manage.py"),
            "network",
            "--demo",
            "--genesis-config",
            str(genesis),
            "--base-port",
            str(base_port),
            "--run-dir",
            str(tmp_path / "node"),
            "--concurrency",
            "1",
        ],
        env=env,
        cwd=BASE_DIR,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    started = psutil.Process(proc.pid)
    urls = [f"http://127.0.0.1:{base_port + i}" for i in range(len(THREE))]
    databases = [database_url(base, f"{base.rsplit('/', 1)[1]}_{n.lower()}") for n in THREE]
    try:
        statuses = [_wait(lambda u=u: _status(u), 180) for u in urls]
        assert all(statuses), (tmp_path / "network.log").read_text()
        keys = _validators(genesis)
        assert [s["node_address"] for s in statuses] == [keys[n]["public_key"] for n in THREE]
        assert {s["node_type"] for s in statuses} == {"authority"}
        assert [s["active_validators"] for s in statuses] == [3, 3, 3]
        assert all(database_exists(db) for db in databases)
        table = (tmp_path / "network.log").read_text()
        for name, url in zip(THREE, urls, strict=True):
            assert f"{url}/" in table and name in table
        descendants = started.children(recursive=True)
        assert sum("daphne" in " ".join(p.cmdline()) for p in descendants) == len(THREE)

        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

        _, alive = psutil.wait_procs(descendants, timeout=30)
        assert alive == []
        assert proc.returncode == 0
        assert not any(_status(u) for u in urls)
    finally:
        if proc.poll() is None:
            for child in started.children(recursive=True):
                child.kill()
            proc.kill()
            proc.wait()
        log.close()
        for db in databases:
            database_drop(db)


def _transfer(chain_id: str, nonce: int) -> dict:
    to = address_of(demo_key("home_malee"))
    tx = sign_transaction(
        demo_key("wind_korat"),
        chain_id=chain_id,
        nonce=nonce,
        kind="transfer",
        payload={"to": to, "amount": 1},
    )
    return tx.to_wire()


def _processes(site) -> list[psutil.Process]:
    family = []
    for proc in site.procs:
        try:
            root = psutil.Process(proc.pid)
            family += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    return family


@pytest.mark.live
def test_start_network_kill_site_and_restart_site(tmp_path):
    sites = start_network(tmp_path, THREE, block_interval_ms=300)
    try:
        statuses = [site.status() for site in sites]
        assert [s["node_address"] for s in statuses] == [site.public_key for site in sites]
        assert len({site.database_url for site in sites}) == 3
        assert [s["peers"] for s in statuses] == [2, 2, 2]
        # Each site knows where the others are (GTX_PEER_URLS over the genesis urls).
        shell = subprocess.run(
            [
                sys.executable,
                str(BASE_DIR / "manage.py"),
                "shell",
                "-c",
                "import json; from chain.peers import peer_urls; print(json.dumps(peer_urls()))",
            ],
            env=sites[0].env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        )
        assert json.loads(shell.stdout.strip().splitlines()[-1]) == {s.public_key: s.url for s in sites[1:]}

        victim = sites[1]
        chain_id = statuses[1]["chain_id"]
        assert victim.post("/api/v1/transactions/", json=[_transfer(chain_id, 0)]).status_code == 202
        wait_for_height([victim], 1, timeout=180)  # consensus of three sites on a busy machine
        before = victim.status()
        family = _processes(victim)
        assert len(family) >= 3

        kill_site(victim)

        assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in family)
        assert not victim.up()
        assert all(site.up() for site in sites if site is not victim)

        restart_site(victim)

        after = victim.status()
        assert after["height"] >= before["height"]
        assert (after["node_address"], after["chain_id"]) == (before["node_address"], before["chain_id"])
        # The same database: the transaction committed before the crash is still there.
        account = victim.get(f"/api/v1/accounts/{address_of(demo_key('wind_korat'))}/").json()
        assert account["nonce"] == 1
    finally:
        every = [p for site in sites for p in _processes(site)]
        stop_network(sites)
    _, alive = psutil.wait_procs(every, timeout=20)
    assert alive == []
    assert not any(database_exists(site.database_url) for site in sites)


@pytest.mark.live
def test_start_site_runs_one_validator_whatever_genesis_it_is_given(tmp_path):
    four = genesis_with_active(DEMO_GENESIS, ["EGAT", "MEA", "PEA", "ERC"], tmp_path / "four.toml")

    site, procs = start_site(tmp_path, extra_env={"GTX_GENESIS": str(four)})
    try:
        status = site.status()
        assert status["active_validators"] == 1
        assert status["node_address"] == _validators(four)["EGAT"]["public_key"]
        assert site.post("/api/v1/transactions/", json=[_transfer(status["chain_id"], 0)]).status_code == 202
        wait_for_height([site], 1, timeout=120)  # alone, it is the whole validator set
    finally:
        stop_site(site, procs)
    assert not database_exists(site.database_url)
