"""One fault run: the network up, workload and nemesis for ``seconds``, heal, settle, check.

``python -m faults.run --seconds 120 [--seed N]`` (``make faults``) prints the seed, the
phases as they are applied and the checker's summary; it exits 1 when the checker
finds acknowledged transactions lost or stuck, money made or burnt, or two chains.
``--seeds K`` runs the schedules of seeds N to N+K-1 one after another on one network
(``make faults FAULT_SEEDS=K``), a line per seed and the totals at the end.
"""

import argparse
import logging
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from faults.checker import Monitor, Verdict, balances, check, voting_set
from faults.hosts import FaultNetwork
from faults.nemesis import Nemesis, schedule
from faults.workload import History, account_addresses, start_clients
from gtxclient import Key, Site, sign_transaction
from localnet.genesis_files import DEMO_GENESIS, active_validators

SHORT_PHASES = {"fault_s": (3.5, 5.5), "calm_s": (1.5, 3.0)}


def fault_run(
    *,
    seconds: float,
    seed: int,
    tmp: Path,
    settle_s: float = 120.0,
    fault_s: tuple[float, float] = (4.0, 8.0),
    calm_s: tuple[float, float] = (2.0, 4.0),
    block_interval_ms: int = 250,
) -> Verdict:
    """One seed's schedule on a network of its own."""
    with FaultNetwork(tmp, block_interval_ms=block_interval_ms) as net:
        print("faults: " + ", ".join(f"{h.name} {h.address} ({h.namespace})" for h in net.hosts), flush=True)
        return schedule_run(
            net, seconds=seconds, seed=seed, settle_s=settle_s, fault_s=fault_s, calm_s=calm_s
        )


def schedule_run(
    net: FaultNetwork,
    *,
    seconds: float,
    seed: int,
    settle_s: float,
    fault_s: tuple[float, float],
    calm_s: tuple[float, float],
) -> Verdict:
    """Workload and nemesis for ``seed``'s schedule on a running network, heal, settle, check.

    Several seeds may run one after another on one network: each measures the
    total and the chain from where the last one left them.
    """
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request drowns the phases
    validators = active_validators(DEMO_GENESIS)
    stakes = {v["name"]: v["stake"] for v in validators}
    authorities = {v["name"] for v in validators if v.get("authority")}
    phases = schedule(
        seed,
        seconds=seconds,
        names=list(stakes),
        authorities=sorted(authorities),
        fault_s=fault_s,
        calm_s=calm_s,
    )
    print(
        f"faults: seed {seed}, {len(phases)} phases over {sum(p.duration_s for p in phases):.0f}s", flush=True
    )
    sites = {host.name: host.site.url for host in net.hosts}
    addresses = list(account_addresses().values())
    with httpx.Client(timeout=10, trust_env=False) as http:
        total_before = sum(balances(http, next(iter(sites.values())), addresses).values())
        before = voting_set(http, next(iter(sites.values()))) or (stakes, authorities)
    zero = time.monotonic()
    monitor_stop, clients_stop = threading.Event(), threading.Event()
    monitor = Monitor(sites, zero, monitor_stop)
    monitor.start()
    history = History()
    clients = start_clients(sites, history, seed=seed, stop=clients_stop, zero=zero)
    nemesis = Nemesis(net, phases, zero)
    nemesis.start()
    try:
        nemesis.join()
    finally:
        clients_stop.set()
        for client in clients:
            client.join(timeout=30)
        if nemesis.error is not None or nemesis.is_alive():
            nemesis.heal()
    healed_at_s = time.monotonic() - zero
    print(f"faults: healed at {healed_at_s:.1f}s; settling (at most {settle_s:.0f}s)", flush=True)
    try:
        verdict = check(
            sites=sites,
            history=history,
            addresses=addresses,
            total_before=total_before,
            applied=nemesis.applied,
            samples=monitor.samples,
            voting_sets=[before],
            settle_s=settle_s,
            healed_at_s=healed_at_s,
            zero=zero,
        )
    finally:
        monitor_stop.set()
        monitor.join()
    if nemesis.error is not None:
        verdict.problems.append(f"the nemesis failed: {nemesis.error!r}")
    print(f"faults: seed {seed}\n{verdict.summary()}", flush=True)
    return verdict


def operator_unjail(sites: dict[str, str], wait_s: float = 60.0) -> list[str]:
    """What an operator does after an outage: an authority signs ``validator_unjail`` for each
    site jailed for missed proposals, so the next seed starts with the whole voting set
    (docs/FAULTS.md, "Jailing"). Returns what was done, for the log."""
    with httpx.Client(timeout=10, trust_env=False) as http:
        rows = http.get(f"{next(iter(sites.values()))}/api/v1/validators/").json()
        jailed = [v for v in rows if v["jailed"]]
        signer = next((v for v in rows if v["authority"] and v["active"] and not v["jailed"]), None)
        if not jailed:
            return []
        if signer is None:
            return [f"jailed {[v['name'] for v in jailed]}, and no authority free to unjail them"]
        site = Site(sites[signer["name"]], http=http)
        chain_id = site.status()["chain_id"]
        key = Key.demo(signer["name"])
        nonce = site.next_nonce(key.address)
        done = []
        for validator in jailed:
            tx = sign_transaction(
                key,
                chain_id=chain_id,
                nonce=nonce,
                kind="validator_unjail",
                payload={"public_key": validator["public_key"]},
            )
            site.submit([tx])
            nonce += 1
            done.append(f"{signer['name']} unjailed {validator['name']} (tx {tx.hash[:12]})")
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            rows = http.get(f"{site.url}/api/v1/validators/").json()
            if not any(v["jailed"] for v in rows):
                return done
            time.sleep(0.5)
    return [*done, f"still jailed after {wait_s:.0f}s: {[v['name'] for v in rows if v['jailed']]}"]


def seeds_run(
    *,
    seeds: list[int],
    seconds: float,
    tmp: Path,
    settle_s: float,
    budget_s: float | None = None,
    **phase_lengths,
) -> bool:
    """The seeds' schedules one after another on one network; a line per seed, then the totals.

    With ``budget_s``, no seed starts once that long has passed since the first one did.
    """
    lines, verdicts = [], []
    with FaultNetwork(tmp) as net:
        print("faults: " + ", ".join(f"{h.name} {h.address} ({h.namespace})" for h in net.hosts), flush=True)
        started = time.monotonic()
        try:
            for seed in seeds:
                if budget_s is not None and time.monotonic() - started > budget_s:
                    print(
                        f"faults: the budget of {budget_s:.0f}s is spent; seeds from {seed} not run",
                        flush=True,
                    )
                    break
                verdict = schedule_run(net, seconds=seconds, seed=seed, settle_s=settle_s, **phase_lengths)
                verdicts.append(verdict)
                lines.append(verdict.line(seed))
                print("faults: " + lines[-1], flush=True)
                for line in operator_unjail({h.name: h.site.url for h in net.hosts}):
                    print("faults: " + line, flush=True)
        finally:
            print("faults: per seed\n" + "\n".join(lines), flush=True)
            print(f"faults: {time.monotonic() - started:.0f}s; " + Verdict.totals_line(verdicts), flush=True)
    return all(v.safe for v in verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="how long faults go on")
    parser.add_argument(
        "--seed", type=int, default=None, help="the schedule's seed (default: random, printed)"
    )
    parser.add_argument(
        "--settle", type=float, default=120.0, help="at most this long for one head after heal"
    )
    parser.add_argument("--short-phases", action="store_true", help="the CI test's shorter faults and calms")
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        help="run this many seeds (from --seed up) one after another on one network",
    )
    parser.add_argument(
        "--budget-minutes", type=float, default=None, help="with --seeds: start no seed after this long"
    )
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1_000_000)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gridtokenx_site.settings")
    import django

    django.setup()
    # SIGTERM (make interrupted, CI timeout) unwinds like ^C, so the namespaces go too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    phase_lengths = SHORT_PHASES if args.short_phases else {"fault_s": (4.0, 8.0), "calm_s": (2.0, 4.0)}
    tmp = Path(tempfile.mkdtemp(prefix=f"gtx-faults-{seed}-"))
    if args.seeds > 1:
        safe = seeds_run(
            seeds=list(range(seed, seed + args.seeds)),
            seconds=args.seconds,
            tmp=tmp,
            settle_s=args.settle,
            budget_s=args.budget_minutes * 60 if args.budget_minutes else None,
            **phase_lengths,
        )
        sys.exit(0 if safe else 1)
    verdict = fault_run(seconds=args.seconds, seed=seed, tmp=tmp, settle_s=args.settle, **phase_lengths)
    sys.exit(0 if verdict.safe else 1)


if __name__ == "__main__":
    main()
