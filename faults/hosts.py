"""The demo sites as hosts of their own: one network namespace and address each.

``FaultNetwork`` (a context manager) creates, under names unique to the run, a bridge
in the root namespace (which keeps 10.A.B.254 on it, for the workload and the checker)
and one namespace per active validator of the demo genesis, joined to the bridge by a
veth pair and holding 10.A.B.k. In each namespace run the site's processes (daphne on
127.0.0.1:SITE_PORT+k-1, started by ``localnet.launch_site`` under ``ip netns exec``), a
relay on 10.A.B.k:SITE_PORT+k-1 (``faults.relay``) and forwarders
that make PostgreSQL and Redis answer on the namespace's own 127.0.0.1 as they do on
the root's: socat in the namespace to a unix socket, socat in the root namespace from
it to the server. Sites therefore keep the URLs they always have, and only site-to-site
and client HTTP crosses the links the nemesis breaks.

Everything the run creates is written to STATE_DIR/<run>/resources.json before it
exists, and removed on exit; a run killed outright is swept by the next one
(``sweep_stale_runs``).
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psutil

from localnet import BASE_DIR
from localnet.databases import DEFAULT_DATABASE_URL, database_drop
from localnet.genesis_files import DEMO_GENESIS, active_validators
from localnet.network import Site, launch_site, plan_network, prepare_sites, wait_up
from localnet.processes import stop_processes

STATE_DIR = Path(tempfile.gettempdir()) / "gtx-faults"
SITE_PORT = 8400
SKEW_CLOCK_SOURCE = Path(__file__).with_name("skewclock.c")
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def _quiet(*args: str) -> None:
    subprocess.run(["ip", *args], check=False, capture_output=True)


@dataclass
class Host:
    """One site and what surrounds it in its namespace."""

    site: Site
    namespace: str
    address: str
    clock_offset_file: Path
    relay: subprocess.Popen | None = None
    forwarders: list[subprocess.Popen] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.site.name


def _loopback_tcp(url: str) -> tuple[str, int] | None:
    """(host, port) when ``url`` reaches its server over TCP on this machine's loopback."""
    parts = urlsplit(url)
    if "host" in parse_qs(parts.query) or parts.hostname not in ("127.0.0.1", "localhost"):
        return None
    return parts.hostname, parts.port or {"redis": 6379}.get(parts.scheme, 5432)


def _pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _remove(resources: dict) -> None:
    """Remove a run's namespaces (after stopping what still runs in them), bridge and databases."""
    for namespace in resources.get("namespaces", []):
        pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True).stdout
        for pid in pids.split():
            try:
                psutil.Process(int(pid)).kill()  # processes of that run only: they live in its namespace
            except psutil.NoSuchProcess:
                pass
        _quiet("netns", "del", namespace)
    if resources.get("bridge"):
        _quiet("link", "del", resources["bridge"])
    for url in resources.get("databases", []):
        try:
            database_drop(url)
        except Exception as exc:  # noqa: BLE001 - cleanup goes on; the report names what stayed
            print(f"faults: could not drop {url}: {exc}", file=sys.stderr)


def sweep_stale_runs() -> None:
    """Remove what runs whose owning process is gone left behind (a SIGKILL skips cleanup)."""
    if not STATE_DIR.is_dir():
        return
    for run_dir in STATE_DIR.iterdir():
        try:
            resources = json.loads((run_dir / "resources.json").read_text())
        except (OSError, ValueError):
            continue
        if _pid_alive(resources.get("owner_pid", 0)):
            continue
        for pid in resources.get("root_pids", []):
            if _pid_alive(pid):
                psutil.Process(pid).kill()
        _remove(resources)
        shutil.rmtree(run_dir, ignore_errors=True)


def _free_subnet() -> str:
    """A 10.A.B (/24) that no address or route of this machine uses."""
    used = subprocess.run(
        ["ip", "-4", "route", "show", "table", "all"], capture_output=True, text=True
    ).stdout
    used += subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True).stdout
    rng = random.Random()  # noqa: S311 - any free subnet will do
    for _ in range(200):
        prefix = f"10.{rng.randint(200, 250)}.{rng.randint(0, 255)}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 for the fault network")


class FaultNetwork:
    """The four demo sites, each in its own namespace; ``with FaultNetwork(tmp) as net:``."""

    def __init__(self, tmp: Path, *, block_interval_ms: int = 250, genesis: Path = DEMO_GENESIS):
        self.tmp = Path(tmp)
        self.block_interval_ms = block_interval_ms
        self.genesis = genesis
        self.run_id = uuid.uuid4().hex[:5]
        self.state_dir = STATE_DIR / self.run_id
        self.bridge = f"gtxf{self.run_id}br"
        self.prefix = ""
        self.hosts: list[Host] = []
        self.links_file = self.state_dir / "links.json"
        self.root_forwarders: list[subprocess.Popen] = []
        self.resources: dict = {"owner_pid": os.getpid(), "namespaces": [], "databases": [], "root_pids": []}
        self.blocked: dict[str, set[str]] = {}

    # --- bookkeeping ---------------------------------------------------------

    def _record(self, key: str, value) -> None:
        if isinstance(self.resources.get(key), list):
            self.resources[key].append(value)
        else:
            self.resources[key] = value
        partial = self.state_dir / "resources.json.tmp"
        partial.write_text(json.dumps(self.resources))
        partial.replace(self.state_dir / "resources.json")

    # --- lifetime ------------------------------------------------------------

    def __enter__(self) -> "FaultNetwork":
        sweep_stale_runs()
        self.state_dir.mkdir(parents=True)
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> None:
        validators = active_validators(self.genesis)
        self.prefix = _free_subnet()
        self._record("bridge", self.bridge)
        ip("link", "add", self.bridge, "type", "bridge")
        ip("addr", "add", f"{self.prefix}.254/24", "dev", self.bridge)
        ip("link", "set", self.bridge, "up")
        self.write_links({})
        shim = self._build_skew_clock()
        services = self._root_forwarders()
        names = [v["name"] for v in validators]
        addresses = [f"{self.prefix}.{k + 1}" for k in range(len(names))]
        for k, address in enumerate(addresses):
            self._namespace(k, address)
        tag = uuid.uuid4().hex[:10]
        sites = plan_network(
            self.genesis,
            base_url=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            run_dir=self.tmp,
            names=names,
            hosts=addresses,
            bind_host="127.0.0.1",
            ports=[SITE_PORT + k for k in range(len(names))],
            database_prefix=f"gtx_live_{tag}",
            queue_prefix=f"gtx-test-{tag}",
            environ={
                **os.environ,
                "GTX_DEV": "1",
                "GTX_TEST_FAST_HASHER": "1",
                "ALLOWED_HOSTS": ",".join(["127.0.0.1", "localhost", *addresses]),
            },
            block_interval_ms=self.block_interval_ms,
        )
        for site in sites:
            self._record("databases", site.database_url)
        prepare_sites(sites, self.genesis, demo=True)
        for k, site in enumerate(sites):
            namespace = self.resources["namespaces"][k]
            clock = self.state_dir / f"clock-{k}"
            clock.write_text("0\n")
            site.env.update({"LD_PRELOAD": str(shim), "GTX_CLOCK_OFFSET_FILE": str(clock)})
            site.command_prefix = ["ip", "netns", "exec", namespace]
            host = Host(site, namespace, site.host, clock)
            host.forwarders = [self._namespace_forwarder(namespace, *service) for service in services]
            host.relay = self._popen(
                [
                    "ip",
                    *("netns", "exec", namespace, sys.executable, "-m", "faults.relay"),
                    *("--listen", site.host, "--port", str(site.port), "--links", str(self.links_file)),
                ],
                log=site.run_dir / "relay.log",
            )
            self.hosts.append(host)
        for host in self.hosts:
            launch_site(host.site)
        for host in self.hosts:
            wait_up(host.site, timeout=300)  # a loaded 2-core machine took over 120 s

    def _popen(self, command: list[str], *, log: Path | None = None) -> subprocess.Popen:
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps its copy
        try:
            return subprocess.Popen(command, cwd=BASE_DIR, stdout=output, stderr=subprocess.STDOUT)
        finally:
            if log:
                output.close()

    def _build_skew_clock(self) -> Path:
        shim = self.state_dir / "skewclock.so"
        subprocess.run(
            ["gcc", "-O2", "-shared", "-fPIC", "-o", str(shim), str(SKEW_CLOCK_SOURCE), "-ldl"],
            check=True,
            capture_output=True,
        )
        return shim

    def _root_forwarders(self) -> list[tuple[int, Path]]:
        """A unix socket per loopback service (PostgreSQL, Redis) the sites' URLs name."""
        services = []
        urls = {
            "postgres": os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            "redis": os.environ.get("REDIS_URL", DEFAULT_REDIS_URL),
        }
        for label, url in urls.items():
            target = _loopback_tcp(url)
            if target is None:
                continue  # a unix socket already: it reaches through namespaces as it is
            host, port = target
            socket_path = self.state_dir / f"{label}.sock"
            proc = self._popen(["socat", f"UNIX-LISTEN:{socket_path},fork,mode=600", f"TCP:{host}:{port}"])
            self.root_forwarders.append(proc)
            self._record("root_pids", proc.pid)
            services.append((port, socket_path))
        return services

    def _namespace(self, k: int, address: str) -> None:
        namespace = f"gtxf{self.run_id}n{k}"
        outside, inside = f"gtxf{self.run_id}{k}h", f"gtxf{self.run_id}{k}n"
        self._record("namespaces", namespace)
        ip("netns", "add", namespace)
        ip("-n", namespace, "link", "set", "lo", "up")
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", inside, "netns", namespace)
        ip("link", "set", outside, "master", self.bridge, "up")
        ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        ip("-n", namespace, "link", "set", inside, "up")
        self.blocked[address] = set()

    def _namespace_forwarder(self, namespace: str, port: int, socket_path: Path) -> subprocess.Popen:
        return self._popen(
            [
                *("ip", "netns", "exec", namespace, "socat"),
                f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
                f"UNIX-CONNECT:{socket_path}",
            ]
        )

    def close(self) -> None:
        """Stop every process of the run, then remove namespaces, bridge and databases."""
        procs = [p for h in self.hosts for p in h.site.procs]
        procs += [p for h in self.hosts for p in [h.relay, *h.forwarders] if p is not None]
        stop_processes(procs)
        stop_processes(self.root_forwarders)
        _remove(self.resources)
        shutil.rmtree(self.state_dir, ignore_errors=True)

    # --- what the nemesis moves ---------------------------------------------------

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def partition(self, blocked_pairs: set[frozenset[str]]) -> None:
        """Make exactly ``blocked_pairs`` (of site names) unable to reach each other: a
        blackhole route to the other's address in each one's namespace, so packets vanish
        as on a cut link (no error comes back; connections time out)."""
        for host in self.hosts:
            wanted = {
                self.host(other).address for pair in blocked_pairs if host.name in pair for other in pair
            } - {host.address}
            for address in wanted - self.blocked[host.address]:
                ip("-n", host.namespace, "route", "add", "blackhole", f"{address}/32")
            for address in self.blocked[host.address] - wanted:
                ip("-n", host.namespace, "route", "del", "blackhole", f"{address}/32")
            self.blocked[host.address] = wanted

    def write_links(self, figures_by_name: dict[str, dict]) -> None:
        """Link figures (delay_ms, jitter_ms, loss_pct, reset_pct) of the named sites; others perfect."""
        by_address = {self.host(name).address: f for name, f in figures_by_name.items()}
        partial = self.links_file.with_suffix(".tmp")
        partial.write_text(json.dumps(by_address))
        partial.replace(self.links_file)

    def skew_clock(self, name: str, offset_ms: int) -> None:
        """Move the named site's wall clock ``offset_ms`` from true (read within 100 ms)."""
        file = self.host(name).clock_offset_file
        partial = file.with_suffix(".tmp")
        partial.write_text(f"{offset_ms}\n")
        partial.replace(file)
