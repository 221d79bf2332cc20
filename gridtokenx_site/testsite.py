"""Whole real sites in their own processes, for tests and benchmarks.

``start_site`` creates a fresh PostgreSQL database, migrates it, initialises
a chain (by default the demo genesis with EGAT its only active validator,
``solo_genesis``) and starts daphne, a Celery worker and beat on a free port,
with their own Celery queue and channel prefix so that several sites can share
one Redis. ``stop_site`` stops every process it started and drops the database.

``start_network`` starts one such site per validator of a genesis, each with
its own database, node key, queue, channel prefix and port, and GTX_PEER_URLS
naming every site of the network. ``kill_site`` kills one site's processes
with SIGKILL; ``restart_site`` starts them again over the same database;
``wait_for_height`` waits (bounded) until every site has committed a height.
"""

import os
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from gridtokenx_site.databases import database_create, database_drop, database_url
from gridtokenx_site.devservers import free_port
from gridtokenx_site.logs import site_log
from gridtokenx_site.processes import site_commands, stop_processes

BASE_DIR = Path(__file__).resolve().parent.parent
DEMO_GENESIS = BASE_DIR / "thai_market.toml"
DEFAULT_DB_URL = "postgres://postgres@127.0.0.1:5432/gridtokenx"


def _db_url(name: str) -> str:
    return database_url(os.environ.get("DATABASE_URL", DEFAULT_DB_URL), name)


@dataclass
class LiveSite:
    url: str
    ws_url: str
    env: dict
    database_url: str
    #: The genesis validator it runs as, and that validator's public key.
    name: str = "EGAT"
    public_key: str = ""
    #: Its running processes (daphne, worker, beat); replaced by ``restart_site``.
    procs: list[subprocess.Popen] = field(default_factory=list, repr=False)
    commands: list[list[str]] = field(default_factory=list, repr=False)
    run_dir: Path | None = None

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kwargs)

    def status(self) -> dict:
        """This site's /api/v1/status/ (height, state root, ...)."""
        response = self.get("/api/v1/status/")
        response.raise_for_status()
        return response.json()

    def up(self) -> bool:
        try:
            return self.get("/api/v1/status/").status_code == 200
        except httpx.HTTPError:
            return False

    def wait_for(self, predicate, timeout: float = 15.0, interval: float = 0.2):
        """Poll ``predicate`` until it returns something truthy (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(interval)
        raise AssertionError(f"condition not met within {timeout}s")


# --- genesis files -----------------------------------------------------------------


def genesis_with_active(source: Path, active: list[str], out: Path) -> Path:
    """Write ``source`` to ``out`` with exactly the validators named in ``active`` active.

    Only the ``active = ...`` lines of [[validators]] tables change, so comments
    and every other value stay as the source has them.
    """
    text = source.read_text()
    known = [v["name"] for v in tomllib.loads(text)["validators"]]
    unknown = set(active) - set(known)
    if unknown:
        raise ValueError(f"{source.name} has no validator named {sorted(unknown)}")
    lines = text.splitlines(keepends=True)
    result: list[str] = []
    block: list[str] | None = None  # lines of the current [[validators]] table

    def flush():
        if block is None:
            return
        name = next(tomllib.loads(line)["name"] for line in block if line.split("=")[0].strip() == "name")
        value = "true" if name in active else "false"
        has_active = False
        for line in block:
            if line.split("=")[0].strip() == "active":
                result.append(f"active = {value}\n")
                has_active = True
            else:
                result.append(line)
        if not has_active:
            result.append(f"active = {value}\n")

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            flush()
            block = [line] if stripped == "[[validators]]" else None
            if block is None:
                result.append(line)
        elif block is not None:
            block.append(line)
        else:
            result.append(line)
    flush()
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(f".{uuid.uuid4().hex[:6]}.tmp")
    partial.write_text("".join(result))
    partial.replace(out)  # atomic: concurrent writers of the same file never read half of it
    return out


def solo_genesis(tmp: Path, *, source: Path = DEMO_GENESIS, name: str = "EGAT") -> Path:
    """The demo genesis with only ``name`` active: one site is then a whole network.

    Single-site tests use it, so they keep one validator whatever the demo genesis activates.
    """
    return genesis_with_active(source, [name], Path(tmp) / "solo_genesis.toml")


def active_validators(genesis: Path) -> list[dict]:
    """The active [[validators]] tables of a genesis file, in file order."""
    return [v for v in tomllib.loads(Path(genesis).read_text())["validators"] if v["active"]]


# --- one site ----------------------------------------------------------------------


def prepare_site(
    tmp: Path,
    *,
    genesis: Path | None = None,
    validator: str = "EGAT",
    block_interval_ms: int = 300,
    extra_env: dict | None = None,
) -> dict:
    """A fresh database, migrated and holding a demo chain; returns the site's environment.

    The chain comes from ``genesis`` when given (it wins over GTX_GENESIS in
    ``extra_env``), else from GTX_GENESIS in ``extra_env`` or the settings'
    default. The site runs as ``validator`` (its demo key is written to
    ``tmp/node_key``) and gets its own Celery queue and channel prefix, so
    sites share one Redis. ``extra_env`` overrides settings
    (benchmarks keep DB connections open).
    """
    name = f"gtx_live_{uuid.uuid4().hex[:10]}"
    url = _db_url(name)
    database_create(url)
    tag = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "GTX_DEV": "1",
        "GTX_TEST_FAST_HASHER": "1",
        "GTX_NODE_KEY_FILE": str(Path(tmp) / "node_key"),
        "GTX_NODE_NAME": validator,
        "GTX_CELERY_QUEUE": f"gtx-test-{tag}",
        "GTX_CHANNEL_PREFIX": f"gtx-test-{tag}",
        "GTX_BLOCK_INTERVAL_MS": str(block_interval_ms),
        **(extra_env or {}),
        **({"GTX_GENESIS": str(genesis)} if genesis is not None else {}),
    }
    manage = str(BASE_DIR / "manage.py")
    for cmd in (["migrate", "--noinput", "-v0"], ["init", "--validator", validator, "--demo"]):
        subprocess.run(
            [sys.executable, manage, *cmd], env=env, check=True, cwd=BASE_DIR, stdout=subprocess.DEVNULL
        )
    return env


def drop_database(database_url: str) -> None:
    database_drop(database_url)


def _launch(site: LiveSite) -> None:
    """Start the site's processes, appending to its rotated log (``_wait_up`` waits for it)."""
    log = site_log(site.run_dir / "site.log")
    try:
        site.procs = [
            subprocess.Popen(cmd, env=site.env, cwd=BASE_DIR, stdout=log.output, stderr=subprocess.STDOUT)
            for cmd in site.commands
        ]
    finally:
        log.started()  # each child has its own copy


def _site(tmp: Path, env: dict, port: int, name: str, public_key: str = "") -> LiveSite:
    tag = env["GTX_CELERY_QUEUE"].removeprefix("gtx-test-")
    commands = site_commands(
        host="127.0.0.1",
        port=port,
        queue=env["GTX_CELERY_QUEUE"],
        worker_name=tag,
        beat_schedule=Path(tmp) / "beat-schedule",
    )
    return LiveSite(
        f"http://127.0.0.1:{port}",
        f"ws://127.0.0.1:{port}",
        env,
        env["DATABASE_URL"],
        name=name,
        public_key=public_key,
        commands=commands,
        run_dir=Path(tmp),
    )


def _wait_up(site: LiveSite, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if site.up():
            return
        if any(p.poll() is not None for p in site.procs):
            break
        time.sleep(0.2)
    log = (site.run_dir / "site.log").read_text()[-3000:]
    raise AssertionError(f"site {site.name} at {site.url} did not come up:\n{log}")


def start_site(
    tmp: Path,
    *,
    genesis: Path | None = None,
    solo: bool = True,
    block_interval_ms: int = 300,
    extra_env: dict | None = None,
) -> tuple[LiveSite, list[subprocess.Popen]]:
    """Start daphne, a Celery worker and beat on a free port over a fresh ``prepare_site``.

    The chain comes from ``genesis``, else GTX_GENESIS in ``extra_env``, else
    the demo genesis; with ``solo`` (the default) only EGAT is active in it
    (``solo_genesis``), since one site alone can only commit when it is the
    whole validator set.
    """
    tmp = Path(tmp)
    source = Path(genesis or (extra_env or {}).get("GTX_GENESIS") or DEMO_GENESIS)
    genesis = solo_genesis(tmp, source=source) if solo else source
    env = prepare_site(tmp, genesis=genesis, block_interval_ms=block_interval_ms, extra_env=extra_env)
    site = _site(tmp, env, free_port(), env["GTX_NODE_NAME"])
    _launch(site)
    try:
        _wait_up(site, timeout=60)
    except AssertionError:
        stop_site(site, site.procs)
        raise
    return site, site.procs


def stop_site(site: LiveSite, procs: list[subprocess.Popen] | None = None) -> None:
    """Stop every process of the site and drop its database."""
    stop_processes(procs if procs is not None else site.procs)
    drop_database(site.database_url)


# --- a network of sites --------------------------------------------------------------


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and not 8000 <= port <= 8010:
            ports.append(port)
    return ports


def start_network(
    tmp: Path,
    names: list[str] | None = None,
    *,
    genesis: Path | None = None,
    block_interval_ms: int = 300,
    extra_env: dict | None = None,
) -> list[LiveSite]:
    """One real site per validator, each answering on a free port, in ``names`` order.

    ``genesis`` (default: the demo genesis) gives the chain; ``names`` picks the
    validators that are active, one site each (default: the genesis's active
    ones). Every site has its own database, node key (the validator's demo
    key), Celery queue and channel prefix, and GTX_PEER_URLS naming every site.
    """
    tmp = Path(tmp)
    source = Path(genesis) if genesis is not None else DEMO_GENESIS
    if names is None:
        path = source
        names = [v["name"] for v in active_validators(source)]
    else:
        path = genesis_with_active(source, list(names), tmp / "network_genesis.toml")
    validators = {v["name"]: v for v in active_validators(path)}
    ports = _free_ports(len(names))
    peers = ",".join(f"{name}=http://127.0.0.1:{port}" for name, port in zip(names, ports, strict=True))
    env_extra = {"GTX_PEER_URLS": peers, **(extra_env or {})}

    def prepare(name: str) -> dict:
        run_dir = tmp / name.lower()
        run_dir.mkdir(parents=True, exist_ok=True)
        return prepare_site(
            run_dir,
            genesis=path,
            validator=name,
            block_interval_ms=block_interval_ms,
            extra_env={
                "GTX_NODE_TYPE": "authority" if validators[name].get("authority") else "validator",
                **env_extra,
            },
        )

    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        futures = [pool.submit(prepare, name) for name in names]
        envs = []
        for future in futures:
            try:
                envs.append(future.result())
            except Exception:
                for env in envs:
                    drop_database(env["DATABASE_URL"])
                raise
    sites = [
        _site(tmp / name.lower(), env, port, name, validators[name]["public_key"])
        for name, env, port in zip(names, envs, ports, strict=True)
    ]
    for site in sites:
        _launch(site)
    try:
        for site in sites:
            _wait_up(site, timeout=90)
    except AssertionError:
        stop_network(sites)
        raise
    return sites


def stop_network(sites: list[LiveSite]) -> None:
    """Stop every process of every site (all at once) and drop their databases."""
    stop_processes([proc for site in sites for proc in site.procs])
    for site in sites:
        drop_database(site.database_url)


def kill_site(site: LiveSite) -> None:
    """SIGKILL every process of the site, as a crash would: no cleanup runs."""
    family = []
    for proc in site.procs:
        try:
            root = psutil.Process(proc.pid)
            family += [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pass
    for p in family:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)
    for proc in site.procs:
        proc.wait()


def restart_site(site: LiveSite, timeout: float = 90) -> LiveSite:
    """Start a killed (or stopped) site's processes again over the same database, port and key."""
    if any(proc.poll() is None for proc in site.procs):
        raise RuntimeError(f"site {site.name} is still running: kill_site it first")
    for stale in site.run_dir.glob("beat-schedule*"):
        stale.unlink()  # a SIGKILL can leave beat's shelve half written
    _launch(site)
    _wait_up(site, timeout=timeout)
    return site


def wait_for_height(sites: list[LiveSite], height: int, timeout: float = 60.0) -> list[dict]:
    """Every site's /api/v1/status/ once each has committed ``height`` (a bounded wait, not a timing)."""
    deadline = time.monotonic() + timeout
    statuses: list[dict | None] = [None] * len(sites)
    while time.monotonic() < deadline:
        for index, site in enumerate(sites):
            try:
                statuses[index] = site.status()
            except httpx.HTTPError:
                statuses[index] = None
        if all(s is not None and s["height"] >= height for s in statuses):
            return statuses
        time.sleep(0.2)
    heights = {site.name: s and s["height"] for site, s in zip(sites, statuses, strict=True)}
    raise AssertionError(f"not every site reached height {height} within {timeout}s: {heights}")
