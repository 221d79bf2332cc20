"""A network of whole sites on this machine: the one launcher of `make run`, the tests and the benchmarks.

``plan_network`` gives one ``Site`` per validator of a genesis (and one per follower
asked for: a validator record that is not active, e.g. the ERC's, started as an
``observer`` that follows the chain and serves its users): its own
PostgreSQL database (next to DATABASE_URL's, on the same server), node key
(<run dir>/<validator>/node_key), Celery queue and channel prefix (so sites
share one Redis), port, and GTX_PEER_URLS naming the others. ``launch_network``
creates, migrates and initialises every site's database, all sites at once,
then starts each with ``manage.py start`` (daphne, Celery workers, beat), its
output in a rotated <run dir>/<validator>/site.log.

``manage.py network`` plans from the genesis's ports and keeps the databases;
``start_network`` (tests, benchmarks) plans on free ports with fresh databases,
waits until every site answers, and ``stop_network`` drops them. ``start_site``
is a network of one; ``start_later`` starts a planned site (a follower joining late).
``kill_site`` kills one site's processes with SIGKILL;
``restart_site`` starts them again over the same database; ``wait_for_height``
waits (bounded) until every site has committed a height.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from chain.ledger.genesis import load_genesis
from localnet import BASE_DIR
from localnet.databases import (
    DEFAULT_DATABASE_URL,
    database_create,
    database_drop,
    database_exists,
    database_name,
    database_url,
    migrated_template,
)
from localnet.devservers import free_port
from localnet.genesis_files import (
    DEMO_GENESIS,
    active_validators,
    genesis_with_active,
    solo_genesis,
)
from localnet.logs import site_log
from localnet.processes import stop_processes

#: Where a test network says the validators it runs no site for are: no connection is made.
NOWHERE = "http://127.0.0.1:0"
#: Environment switches for demo extras that must run once per network, not once per site.
DEMO_ONLY_FIRST = ("GTX_DEMO_", "GTX_METERS_DEMO")


class SitePrepareError(RuntimeError):
    """A site's database could not be migrated or initialised; the message holds its log's tail."""


@dataclass
class Site:
    name: str  # the genesis validator it runs as
    #: The --node-type of `manage.py start`: "authority" or "validator", or "observer" for a follower.
    role: str
    port: int
    database_url: str
    run_dir: Path
    env: dict
    #: The address peers and clients reach it at (its url).
    host: str = "127.0.0.1"
    public_key: str = ""
    #: What daphne binds when not ``host`` (a relay in front of it carries ``host``).
    bind_host: str | None = None
    #: Put before `manage.py start`, e.g. ``ip netns exec NS`` (faults/hosts.py).
    command_prefix: list[str] = field(default_factory=list)
    #: Beat's tick when set (tests run faster blocks); else the chain's block interval.
    block_interval_ms: int | None = None
    #: More options of `manage.py start`, e.g. ``["--no-mining"]``.
    start_options: list[str] = field(default_factory=list)
    #: Its running `manage.py start`; replaced by ``restart_site``.
    procs: list[subprocess.Popen] = field(default_factory=list, repr=False)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

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


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name.lower())


# --- the plan -------------------------------------------------------------------------


def plan_network(
    genesis_path: str | Path,
    *,
    base_url: str,
    run_dir: Path = BASE_DIR / ".node",
    names: list[str] | None = None,
    host: str = "127.0.0.1",
    hosts: list[str] | None = None,
    bind_host: str | None = None,
    ports: list[int] | None = None,
    base_port: int | None = None,
    database_prefix: str | None = None,
    queue_prefix: str = "gtx",
    environ: Mapping | None = None,
    block_interval_ms: int | None = None,
    followers: list[str] | None = None,
) -> list[Site]:
    """One Site per validator named in ``names`` (default: the active ones, in genesis order),
    then one per follower named in ``followers`` (validator records that are not active;
    default: none), which starts as an ``observer``.

    Ports are ``ports``, else ``base_port`` upwards, else the validators' genesis urls.
    Each site is reached at its entry of ``hosts`` (default: ``host`` for all), and
    daphne binds ``bind_host`` when given (a relay in front of it holds the address).
    Databases are <database_prefix>_<validator> on the server ``base_url`` names
    (prefix default: its database's name); queues and channel prefixes
    <queue_prefix>-<validator>. Each site's environment is ``environ`` (default:
    this process's) with its own settings over it; the demo extras (GTX_DEMO_*,
    GTX_METERS_DEMO) stay on the first site only.
    """
    genesis = load_genesis(genesis_path)
    validators = {v["name"]: v for v in genesis.validators}
    if names is None:
        names = [v["name"] for v in genesis.validators if v["active"]]
    followers = list(followers or [])
    voting = [name for name in followers if validators[name]["active"]]
    if voting:
        raise ValueError(f"{voting} are active validators, not followers.")
    names = [*names, *followers]
    if ports is None:
        ports = []
        for index, name in enumerate(names):
            genesis_port = urlsplit(validators[name].get("url") or "").port
            if base_port is None and genesis_port is None:
                raise ValueError(f"{name} has no port in its genesis url: give a base port.")
            ports.append(base_port + index if base_port is not None else genesis_port)
    hosts = hosts or [host] * len(names)
    if len(set(ports)) != len(ports):
        raise ValueError(f"Two sites would share a port: {ports}. Give a base port.")
    prefix = database_prefix or database_name(base_url)
    environ = dict(os.environ if environ is None else environ)
    sites = []
    for index, (name, site_host, port) in enumerate(zip(names, hosts, ports, strict=True)):
        slug = _slug(name)
        site_dir = Path(run_dir) / slug
        env = {
            key: value for key, value in environ.items() if index == 0 or not key.startswith(DEMO_ONLY_FIRST)
        }
        env.update(
            {
                "DATABASE_URL": database_url(base_url, f"{prefix}_{slug}"),
                "GTX_GENESIS": str(Path(genesis_path).resolve()),
                "GTX_NODE_NAME": name,
                "GTX_NODE_KEY_FILE": str(site_dir / "node_key"),
                "GTX_CELERY_QUEUE": f"{queue_prefix}-{slug}",
                "GTX_CHANNEL_PREFIX": f"{queue_prefix}-{slug}",
            }
        )
        sites.append(
            Site(
                name=name,
                role="observer"
                if name in followers
                else "authority"
                if validators[name].get("authority")
                else "validator",
                port=port,
                database_url=env["DATABASE_URL"],
                run_dir=site_dir,
                env=env,
                host=site_host,
                bind_host=bind_host,
                public_key=validators[name]["public_key"],
                block_interval_ms=block_interval_ms,
            )
        )
    for site in sites:
        site.env["GTX_PEER_URLS"] = ",".join(f"{o.name}={o.url}" for o in sites if o is not site)
    return sites


#: The step that migrates a site's database (and the template fresh ones are copied from).
MIGRATE = ["migrate", "--noinput", "-v0"]


def prepare_steps(genesis_path: str | Path, *, demo: bool) -> list[list[str]]:
    """The manage.py commands that prepare each site; ``{name}`` is the site's validator.

    Only with ``demo`` does `init` get --demo: public demo keys, logins and an admin
    otherwise never exist on a site.
    """
    init = ["init", "--genesis-config", str(genesis_path), "--validator", "{name}"]
    return [MIGRATE, init + (["--demo"] if demo else [])]


# --- starting and stopping ------------------------------------------------------------


def prepare_sites(sites: list[Site], genesis_path: str | Path, *, demo: bool, reset: bool = False) -> None:
    """Create, migrate and initialise every site's database, all sites at once.

    With ``reset`` an existing database (and beat's schedule) is dropped first.
    Raises SitePrepareError naming the sites whose step failed, with their prepare.log.
    """
    manage = [sys.executable, str(BASE_DIR / "manage.py")]
    fresh = []
    for site in sites:
        site.run_dir.mkdir(parents=True, exist_ok=True)
        if reset and database_exists(site.database_url):
            database_drop(site.database_url)
            for stale in site.run_dir.glob("celerybeat-schedule*"):
                stale.unlink()
        if not database_exists(site.database_url):
            fresh.append(site)
    if fresh:
        try:
            template = migrated_template(fresh[0].database_url, partial(_migrate, manage, fresh[0]))
        except subprocess.CalledProcessError:
            log = (fresh[0].run_dir / "prepare.log").read_text()[-1500:]
            raise SitePrepareError(f"migrate failed for the template database\n{log}") from None
        for site in fresh:
            database_create(site.database_url, template=template)
    for step in prepare_steps(genesis_path, demo=demo):
        running = []
        # A fresh database is a copy of the migrated template: nothing to migrate.
        for site in sites if step != MIGRATE else [s for s in sites if s not in fresh]:
            log = open(site.run_dir / "prepare.log", "a")  # noqa: SIM115 - closed below
            cmd = [*manage, *(arg.format(name=site.name) for arg in step)]
            proc = subprocess.Popen(cmd, env=site.env, cwd=BASE_DIR, stdout=log, stderr=log)
            running.append((site, log, proc))
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
            raise SitePrepareError(
                f"{step[0]} failed for {', '.join(s.name for s in failed)}{hint}\n{details}"
            )


def _migrate(manage: list[str], site: Site, url: str) -> None:
    """``manage.py migrate`` of the database ``url`` with ``site``'s settings, logged with its preparation."""
    with open(site.run_dir / "prepare.log", "a") as log:
        subprocess.run(
            [*manage, *MIGRATE],
            env={**site.env, "DATABASE_URL": url},
            cwd=BASE_DIR,
            stdout=log,
            stderr=log,
            check=True,
        )


def launch_site(site: Site, *, concurrency: int = 2, open_browser: bool = False) -> None:
    """Start the site's `manage.py start`, appending to its rotated log (``wait_up`` waits for it)."""
    cmd = [
        *site.command_prefix,
        sys.executable,
        str(BASE_DIR / "manage.py"),
        "start",
        "--node-type",
        site.role,
        "--host",
        site.bind_host or site.host,
        "--port",
        str(site.port),
        "--concurrency",
        str(concurrency),
    ]
    if site.block_interval_ms is not None:
        cmd += ["--block-interval-ms", str(site.block_interval_ms)]
    if open_browser:
        cmd.append("--open-browser")
    cmd += site.start_options
    log = site_log(site.run_dir / "site.log")
    try:
        site.procs = [
            subprocess.Popen(cmd, env=site.env, cwd=BASE_DIR, stdout=log.output, stderr=subprocess.STDOUT)
        ]
    finally:
        log.started()  # the child has its own copy


def launch_network(
    sites: list[Site],
    genesis_path: str | Path,
    *,
    demo: bool,
    reset: bool = False,
    concurrency: int = 2,
    open_browser: bool = False,
) -> None:
    """Prepare every site's database, then start every site (``open_browser``: the first)."""
    prepare_sites(sites, genesis_path, demo=demo, reset=reset)
    for index, site in enumerate(sites):
        launch_site(site, concurrency=concurrency, open_browser=open_browser and index == 0)


def wait_up(site: Site, timeout: float = 60) -> None:
    """Return once the site answers; AssertionError with its log's tail if it does not or exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if site.up():
            return
        if any(p.poll() is not None for p in site.procs):
            break
        time.sleep(0.2)
    log = (site.run_dir / "site.log").read_text()[-3000:]
    raise AssertionError(f"site {site.name} at {site.url} did not come up:\n{log}")


def _free_ports(count: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports and not 8000 <= port <= 8010:
            ports.append(port)
    return ports


def _test_plan(
    tmp: Path,
    genesis: Path,
    names: list[str],
    *,
    block_interval_ms: int,
    extra_env: dict | None,
    followers: list[str] | None = None,
) -> list[Site]:
    """Sites on free ports with fresh databases and queues, fast hashing, faster blocks.

    The genesis validators it runs no site for are at NOWHERE: their genesis urls
    (127.0.0.1:8000-8004) may be `make run`'s sites, which a test's validators must not
    push blocks to (the followers are every inactive validator record).
    """
    tag = uuid.uuid4().hex[:10]
    sites = plan_network(
        genesis,
        base_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
        run_dir=tmp,
        names=names,
        followers=followers,
        ports=_free_ports(len(names) + len(followers or [])),
        database_prefix=f"gtx_live_{tag}",
        queue_prefix=f"gtx-test-{tag}",
        environ={**os.environ, "GTX_DEV": "1", "GTX_TEST_FAST_HASHER": "1", **(extra_env or {})},
        block_interval_ms=block_interval_ms,
    )
    planned = {site.name for site in sites}
    unplanned = [v["name"] for v in load_genesis(genesis).validators if v["name"] not in planned]
    for site in sites:
        site.env["GTX_PEER_URLS"] = ",".join(
            filter(None, [site.env["GTX_PEER_URLS"], *(f"{name}={NOWHERE}" for name in unplanned)])
        )
    return sites


def _start_planned(
    sites: list[Site], genesis: Path, timeout: float, starting: list[Site] | None = None
) -> list[Site]:
    """Start ``starting`` (default: every site) and wait until each answers; on failure stop all."""
    starting = sites if starting is None else starting
    try:
        launch_network(starting, genesis, demo=True)
        for site in starting:
            wait_up(site, timeout=timeout)
    except BaseException:
        stop_network(sites)
        raise
    return sites


def start_network(
    tmp: Path,
    names: list[str] | None = None,
    *,
    genesis: Path | None = None,
    block_interval_ms: int = 300,
    extra_env: dict | None = None,
    followers: list[str] | None = None,
    followers_later: bool = False,
) -> list[Site]:
    """One real site per validator, each answering on a free port, in ``names`` order, then
    one per follower in ``followers`` (inactive validators of the genesis, e.g. "ERC").

    ``genesis`` (default: the demo genesis) gives the chain; ``names`` picks the
    validators that are active, one site each (default: the genesis's active ones).
    With ``followers_later`` the followers are planned (the validators know their urls)
    but not started: ``start_later`` starts each.
    """
    tmp = Path(tmp)
    source = Path(genesis) if genesis is not None else DEMO_GENESIS
    if names is None:
        path, names = source, [v["name"] for v in active_validators(source)]
    else:
        path = genesis_with_active(source, list(names), tmp / "network_genesis.toml")
    sites = _test_plan(
        tmp, path, names, block_interval_ms=block_interval_ms, extra_env=extra_env, followers=followers
    )
    starting = sites[: len(names)] if followers_later else sites
    return _start_planned(sites, path, timeout=180, starting=starting)


def start_later(site: Site, timeout: float = 120) -> Site:
    """Prepare and start a site ``start_network`` planned but did not start (a late follower)."""
    launch_network([site], site.env["GTX_GENESIS"], demo=True)
    wait_up(site, timeout=timeout)
    return site


def start_site(
    tmp: Path,
    *,
    genesis: Path | None = None,
    solo: bool = True,
    block_interval_ms: int = 300,
    extra_env: dict | None = None,
) -> tuple[Site, list[subprocess.Popen]]:
    """One site, EGAT, on a free port over a fresh database: a network of one.

    The chain comes from ``genesis``, else GTX_GENESIS in ``extra_env``, else
    the demo genesis; with ``solo`` (the default) only EGAT is active in it
    (``solo_genesis``), since one site alone can only commit when it is the
    whole validator set.
    """
    tmp = Path(tmp)
    source = Path(genesis or (extra_env or {}).get("GTX_GENESIS") or DEMO_GENESIS)
    path = solo_genesis(tmp, source=source) if solo else source
    [site] = _test_plan(tmp, path, ["EGAT"], block_interval_ms=block_interval_ms, extra_env=extra_env)
    _start_planned([site], path, timeout=120)
    return site, site.procs


def prepare_site(tmp: Path, *, genesis: Path | None = None, block_interval_ms: int = 300) -> Site:
    """A fresh database for EGAT, migrated and holding the demo chain, with nothing started."""
    path = Path(genesis) if genesis is not None else DEMO_GENESIS
    [site] = _test_plan(Path(tmp), path, ["EGAT"], block_interval_ms=block_interval_ms, extra_env=None)
    try:
        prepare_sites([site], path, demo=True)
    except BaseException:
        database_drop(site.database_url)
        raise
    return site


def stop_site(site: Site, procs: list[subprocess.Popen] | None = None) -> None:
    """Stop every process of the site and drop its database."""
    stop_processes(procs if procs is not None else site.procs)
    database_drop(site.database_url)


def stop_network(sites: list[Site]) -> None:
    """Stop every process of every site (all at once) and drop their databases."""
    stop_processes([proc for site in sites for proc in site.procs])
    for site in sites:
        database_drop(site.database_url)


def kill_site(site: Site) -> None:
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


def restart_site(site: Site, timeout: float = 90) -> Site:
    """Start a killed (or stopped) site's processes again over the same database, port and key."""
    if any(proc.poll() is None for proc in site.procs):
        raise RuntimeError(f"site {site.name} is still running: kill_site it first")
    for stale in site.run_dir.glob("celerybeat-schedule*"):
        stale.unlink()  # a SIGKILL can leave beat's shelve half written
    launch_site(site)
    wait_up(site, timeout=timeout)
    return site


def wait_for_height(sites: list[Site], height: int, timeout: float = 60.0) -> list[dict]:
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
