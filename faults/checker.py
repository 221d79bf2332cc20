"""The bank checker (after Jepsen's bank test), run once the faults have healed.

- total: the balances of the workload's accounts add up, at every site, to what they
  did before the first transfer (transfers move tokens, never make or burn them);
- acknowledged: each transaction a site answered 202 for is, at that site, committed
  or dropped with a reason; pending after the settle time is STUCK, 404 is LOST;
- one chain: every site holds the same head hash and state root, and no height ever
  had two different blocks, comparing every site's whole chain and every head the
  monitor saw during the run;
- progress: in every phase where a set of sites holding more than 2/3 of the stake
  and an authority, none down or with its clock skewed, could all talk to each other,
  the height moved (reported per phase; ``stalled`` lists those where it did not).
  Stake and authority are the voting set's as the chain holds it (GET
  /api/v1/validators/), read before and after the run: a site jailed during the run
  (missed proposals while cut off) no longer votes, so a phase counts as stalled
  only if a quorum could talk under both sets, and as moving without a quorum only
  if none could under either.
"""

import itertools
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import httpx

from chain.ledger.genesis import demo_key
from chain.ledger.keys import address_of
from faults.nemesis import AppliedPhase, Phase
from localnet.genesis_files import DEMO_GENESIS, active_validators

#: A phase shorter than this may well see no block even when healthy (a loaded machine's
#: block time is a few seconds): its lack of progress is not listed as a stall.
STALL_MIN_S = 5.0
LOST_PROBLEM = "{count} acknowledged transactions LOST (404 at the acking site)"
STUCK_PROBLEM = "{count} acknowledged transactions still pending"
MEMPOOL_PROBLEM = "one head, but transactions still pending {settle_s:.0f}s after the heal"
#: A pending transaction whose sender's committed nonce is below its own, with nothing
#: committing the nonces between: it waits on a predecessor that no site will commit.
WAITS_ON_GAP = "waits on a nonce gap"
#: How long, at most, the check waits for acknowledged transactions still held or pending
#: after the settle (the hold window is 5 s; its upkeep runs every few seconds).
HELD_WAIT_S = 30.0


class Monitor:
    """Polls every site's status, each from its own thread so that a slow site does not
    make the others' samples late: (seconds since zero, site, height, head hash), the
    time taken when the answer arrived."""

    def __init__(self, sites: dict[str, str], zero: float, stop: threading.Event, interval_s: float = 0.25):
        self.sites, self.zero, self.stop, self.interval_s = sites, zero, stop, interval_s
        self.samples: list[tuple[float, str, int, str]] = []
        self.threads = [
            threading.Thread(target=self.poll, args=(name, url), name=f"monitor-{name}", daemon=True)
            for name, url in sites.items()
        ]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join()

    def poll(self, name: str, url: str) -> None:
        with httpx.Client(timeout=2.0, trust_env=False) as http:
            while not self.stop.is_set():
                try:
                    status = http.get(f"{url}/api/v1/status/").json()
                    at = time.monotonic() - self.zero
                    self.samples.append((at, name, status["height"], status["last_block_hash"]))
                except (httpx.HTTPError, ValueError, KeyError):
                    pass
                self.stop.wait(self.interval_s)


#: The voting stakes by site name, and the names of the authorities among them.
VotingSet = tuple[dict[str, int], set[str]]


def voting_set(http: httpx.Client, site_url: str) -> VotingSet | None:
    """Who votes at the site's head: active, not jailed, staked; a jailed authority is none."""
    try:
        response = http.get(f"{site_url}/api/v1/validators/")
        rows = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    if not isinstance(rows, list):
        return None
    stakes = {v["name"]: v["stake"] for v in rows if v["active"] and not v["jailed"] and v["stake"] > 0}
    return stakes, {v["name"] for v in rows if v["name"] in stakes and v["authority"]}


def quorum_could_talk(phase: Phase, stakes: dict[str, int], authorities: set[str]) -> bool:
    """Whether some sites holding > 2/3 of the stake, one an authority, up and on true
    time, can all reach one another in ``phase``."""
    fit = [n for n in stakes if n not in phase.down and n not in phase.clock_ms]
    blocked = {frozenset(pair) for pair in phase.blocked}
    total = sum(stakes.values())
    for size in range(len(fit), 0, -1):
        for group in itertools.combinations(fit, size):
            talks = all(frozenset(pair) not in blocked for pair in itertools.combinations(group, 2))
            if talks and 3 * sum(stakes[n] for n in group) > 2 * total and authorities & set(group):
                return True
    return False


@dataclass
class Verdict:
    acked: int = 0
    committed: int = 0
    dropped: Counter = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    indeterminate: Counter = field(default_factory=Counter)
    totals: dict[str, int] = field(default_factory=dict)
    total_before: int = 0
    heads: dict[str, tuple] = field(default_factory=dict)
    forks: list[str] = field(default_factory=list)
    phases: list[dict] = field(default_factory=list)
    stalled: list[str] = field(default_factory=list)
    #: Phases without a quorum whose highest height still moved: a block decided before
    #: the fault that a site committed after it, or a sample that came late; look closer.
    moved_without_quorum: list[str] = field(default_factory=list)
    #: Seconds from each heal (a calm phase after a fault) to the next new block.
    recoveries_s: list[float] = field(default_factory=list)
    #: Of those, how many came only after the next fault had begun (the calm was too short).
    recoveries_across_fault: int = 0
    #: Seconds from the last heal (no fault after it) to the next new block.
    final_recovery_s: float | None = None
    refusals: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        """Nothing acknowledged lost, money kept, one chain: what must hold whatever the faults."""
        return not self.problems

    @property
    def faults(self) -> int:
        """Fault phases applied (a clock skew is two: forward and back)."""
        return sum(1 for row in self.phases if row["name"] != "calm")

    def line(self, seed: int) -> str:
        """One seed in one line: what was injected, what was acknowledged, what became of it."""
        recoveries = self.recoveries_s or [0.0]
        return (
            f"seed {seed}: faults {self.faults}, acked {self.acked}, committed {self.committed}, "
            f"dropped {sum(self.dropped.values())}, lost {len(self.lost)}, stuck {len(self.stuck)}, "
            f"forks {len(self.forks)}, heads {len(set(self.heads.values()))}, "
            f"recovery after the last heal {self.final_recovery_s}s, after each heal {self.recoveries_s} "
            f"(max {max(recoveries):.1f}s, {self.recoveries_across_fault} after the next fault began), "
            f"stalled {len(self.stalled)}: " + ("ok" if self.safe else "FAILED: " + "; ".join(self.problems))
        )

    @staticmethod
    def totals_line(verdicts: list["Verdict"]) -> str:
        recoveries = sorted(r for v in verdicts for r in v.recoveries_s)
        median = recoveries[len(recoveries) // 2] if recoveries else 0.0
        slowest = max(recoveries, default=0.0)
        finals = sorted(v.final_recovery_s for v in verdicts if v.final_recovery_s is not None)
        final_median = finals[len(finals) // 2] if finals else 0.0
        across = sum(v.recoveries_across_fault for v in verdicts)
        return (
            f"totals over {len(verdicts)} seeds: faults {sum(v.faults for v in verdicts)}, "
            f"acked {sum(v.acked for v in verdicts)}, committed {sum(v.committed for v in verdicts)}, "
            f"dropped {sum(sum(v.dropped.values()) for v in verdicts)}, "
            f"lost {sum(len(v.lost) for v in verdicts)}, stuck {sum(len(v.stuck) for v in verdicts)}, "
            f"forks {sum(len(v.forks) for v in verdicts)}, "
            f"recovery after the last heal ({len(finals)} seeds) median {final_median:.1f}s "
            f"max {max(finals, default=0.0):.1f}s, after all {len(recoveries)} heals median {median:.1f}s "
            f"max {slowest:.1f}s ({across} after the next fault began), "
            f"stalled phases {sum(len(v.stalled) for v in verdicts)}, "
            f"seeds failed {sum(1 for v in verdicts if not v.safe)}"
        )

    def summary(self) -> str:
        lines = [
            f"acked {self.acked}  committed {self.committed}  "
            f"dropped {sum(self.dropped.values())} {dict(self.dropped)}  "
            f"LOST {len(self.lost)}  STUCK {len(self.stuck)}",
            *(f"  LOST {line}" for line in self.lost[:10]),
            *(f"  STUCK {line}" for line in self.stuck[:10]),
            f"indeterminate (no answer) {dict(self.indeterminate)}  refusals {dict(self.refusals)}",
            f"total before {self.total_before}, after by site {self.totals}",
            "heads " + ", ".join(f"{n}: h{h} {b[:12]} root {r[:12]}" for n, (h, b, r) in self.heads.items()),
            f"forks {self.forks or 'none'}",
            f"recovery after each heal (s to the next block): {self.recoveries_s}"
            f" ({self.recoveries_across_fault} came after the next fault began)",
            "phases (heights: max over sites at start -> end; * = a quorum could talk):",
        ]
        for row in self.phases:
            mark = "*" if row["quorum"] else " "
            lines.append(
                f"  {mark} {row['started_s']:6.1f}s +{row['duration_s']:4.1f}s  "
                f"h {row['height_from']}->{row['height_to']}  {row['describe']}"
            )
        lines.append(f"stalled with a quorum (phases of {STALL_MIN_S:.0f}s+): {self.stalled or 'none'}")
        lines.append(f"height moved without a quorum: {self.moved_without_quorum or 'none'}")
        lines.append("VERDICT: " + ("ok" if self.safe else "FAILED: " + "; ".join(self.problems)))
        return "\n".join(line for line in lines if line)


def _get(http: httpx.Client, url: str) -> dict | None:
    try:
        response = http.get(url)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else {"status_code": response.status_code}


def balances(http: httpx.Client, site_url: str, addresses: list[str]) -> dict[str, int] | None:
    found = {}
    for address in addresses:
        data = _get(http, f"{site_url}/api/v1/accounts/{address}/")
        if data is None or "balance" not in data:
            return None
        found[address] = data["balance"]
    return found


def whole_chain(http: httpx.Client, site_url: str) -> dict[int, str]:
    """Height -> block hash of every block the site holds (newest-first pages of 500)."""
    chain: dict[int, str] = {}
    url = f"{site_url}/api/v1/blocks/?limit=500"
    while url:
        page = http.get(url).raise_for_status().json()
        chain.update({block["height"]: block["hash"] for block in page["results"]})
        url = page.get("next")
    return chain


def heights_between(samples, start_s: float, end_s: float) -> tuple[int, int]:
    """The highest height any site reported by ``start_s`` and by ``end_s``."""
    before = [h for at, _, h, _ in samples if at <= start_s] or [0]
    until = [h for at, _, h, _ in samples if at <= end_s] or [0]
    return max(before), max(until)


def check(
    *,
    sites: dict[str, str],
    history,
    addresses: list[str],
    total_before: int,
    applied: list[AppliedPhase],
    samples: list,
    voting_sets: list[VotingSet],
    settle_s: float,
    healed_at_s: float,
    zero: float,
) -> Verdict:
    verdict = Verdict(acked=len(history.acks), total_before=total_before, refusals=history.refusals)
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        _settle(verdict, http, sites, history, settle_s)
        _acknowledged(verdict, http, sites, history)
        _one_chain(verdict, http, sites, samples)
        for name, url in sites.items():
            found = balances(http, url, addresses)
            if found is None:
                verdict.problems.append(f"{name} did not answer for balances")
                continue
            verdict.totals[name] = sum(found.values())
            if verdict.totals[name] != total_before:
                verdict.problems.append(f"{name} total {verdict.totals[name]} != {total_before}")
    with httpx.Client(timeout=10.0, trust_env=False) as http:
        site_url = next(iter(sites.values()))
        after = voting_set(http, site_url)
        if after is not None and after not in voting_sets:
            voting_sets = [*voting_sets, after]
        _progress(verdict, applied, samples, voting_sets, healed_at_s)
        if verdict.moved_without_quorum:
            _explain_moves(verdict, http, site_url, applied, samples, voting_sets, zero)
        if verdict.stalled:
            _explain_stalls(verdict, http, site_url, applied, samples, zero)
    return verdict


def _validator_names() -> dict[str, str]:
    """Name by public key and by address, for the votes of a commit certificate."""
    names = {}
    for validator in active_validators(DEMO_GENESIS):
        names[validator["public_key"]] = validator["name"]
        names[address_of(demo_key(validator["name"]))] = validator["name"]
    return names


def _explain_moves(verdict, http, site_url, applied, samples, voting_sets, zero) -> None:
    """For blocks first seen in a phase without a quorum: who certified them, and when the
    block was proposed (its timestamp, on the proposer's clock) against the phase's start."""
    wall_zero = time.time() - (time.monotonic() - zero)  # the run's start on the wall clock
    names = _validator_names()
    for run in applied:
        if any(quorum_could_talk(run.phase, *voting) for voting in voting_sets):
            continue
        start, end = heights_between(samples, run.started_s, run.ended_s)
        for height in range(start + 1, end + 1):
            block = _get(http, f"{site_url}/api/v1/blocks/{height}/") or {}
            votes = block.get("commit_certificate") or []
            signers = sorted(names.get(v.get("validator"), str(v.get("validator"))[:8]) for v in votes)
            verdict.moved_without_quorum.append(
                f"h{height} in {run.phase.name} from {run.started_s:.1f}s: block timestamp "
                f"{block.get('timestamp_ms', 0) / 1000 - wall_zero:.1f}s, round {block.get('round')}, "
                f"precommits {signers}"
            )


def _explain_stalls(verdict, http, site_url, applied, samples, zero) -> None:
    """For a phase with a quorum and no new block: the block that came next, its round and
    proposer, and when it was proposed against the phase's start (a round > 0 says the
    first rounds' proposers could not get a block through)."""
    wall_zero = time.time() - (time.monotonic() - zero)
    names = _validator_names()
    stalled = set(verdict.stalled)
    verdict.stalled = []
    for run in applied:
        label = f"{run.phase.name} at {run.started_s:.1f}s"
        if label not in stalled:
            continue
        start, _ = heights_between(samples, run.started_s, run.ended_s)
        block = _get(http, f"{site_url}/api/v1/blocks/{start + 1}/") or {}
        proposer = names.get(block.get("proposer"), str(block.get("proposer"))[:8])
        verdict.stalled.append(
            f"{label} (phase {run.ended_s - run.started_s:.1f}s): next block h{start + 1} round "
            f"{block.get('round')} by {proposer}, proposed at "
            f"{block.get('timestamp_ms', 0) / 1000 - wall_zero:.1f}s"
        )


def _settle(verdict: Verdict, http, sites, history, settle_s: float) -> None:
    """Wait (bounded) until every site has an empty mempool and one head."""
    deadline = time.monotonic() + settle_s
    heads: set = set()
    while time.monotonic() < deadline:
        statuses = [_get(http, f"{url}/api/v1/status/") for url in sites.values()]
        if all(s and "height" in s for s in statuses):
            heads = {(s["height"], s["last_block_hash"], s["state_root"]) for s in statuses}
            if len(heads) == 1 and all(s["mempool_size"] == 0 for s in statuses):
                return
        time.sleep(0.5)
    if len(heads) == 1:
        verdict.problems.append(MEMPOOL_PROBLEM.format(settle_s=settle_s))
    else:
        verdict.problems.append(f"no common head within {settle_s:.0f}s of the heal")


def _acknowledged(verdict: Verdict, http, sites, history) -> None:
    committed_nonces: set[tuple[str, int]] = set()
    lost = []
    #: A transaction held for a nonce gap is admitted or dropped within the hold window
    #: (GTX_HOLD_SECONDS, then the next upkeep); one still waiting is asked again until then.
    wait_until = None
    for ack in history.acks:
        url = f"{sites[ack.site]}/api/v1/transactions/{ack.tx_hash}/"
        data = _get(http, url)
        while data and data.get("status") in ("held", "pending"):
            wait_until = wait_until or time.monotonic() + HELD_WAIT_S
            if time.monotonic() >= wait_until:
                break
            time.sleep(0.5)
            data = _get(http, url)
        where = f"{ack.tx_hash[:16]} (nonce {ack.nonce} of {ack.sender[:8]}, {ack.site} at {ack.at_s:.1f}s)"
        if data is None:
            verdict.problems.append(f"{ack.site} did not answer for {where}")
        elif data.get("status_code") == 404:
            lost.append((ack, where))
        elif data.get("status") == "committed":
            verdict.committed += 1
            committed_nonces.add((ack.sender, ack.nonce))
        elif data.get("status") == "dropped":
            verdict.dropped[(data.get("error") or {}).get("code", "no reason")] += 1
        else:
            account = _get(http, f"{sites[ack.site]}/api/v1/accounts/{ack.sender}/") or {}
            committed_next = account.get("nonce")
            fate = data.get("status", data)
            if isinstance(committed_next, int) and committed_next < ack.nonce:
                fate = f"{fate}, {WAITS_ON_GAP} (the chain's next nonce is {committed_next})"
            verdict.stuck.append(f"{where}: {fate}")
    for ack, where in lost:
        # Superseded: another transaction of the sender with this nonce committed (the site
        # should have reported this one dropped); else its nonce never committed (a gap).
        fate = "superseded" if (ack.sender, ack.nonce) in committed_nonces else "nonce never committed"
        verdict.lost.append(f"{where}: {fate}")
    for tx_hash, site in history.indeterminate.items():
        data = _get(http, f"{sites[site]}/api/v1/transactions/{tx_hash}/") or {}
        verdict.indeterminate[data.get("status", f"http_{data.get('status_code')}")] += 1
    if verdict.lost:
        verdict.problems.append(LOST_PROBLEM.format(count=len(verdict.lost)))
    if verdict.stuck:
        verdict.problems.append(STUCK_PROBLEM.format(count=len(verdict.stuck)))
    if any(reason == "no reason" for reason in verdict.dropped):
        verdict.problems.append("a transaction was dropped without a reason")


def _one_chain(verdict: Verdict, http, sites, samples) -> None:
    by_height: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for name, url in sites.items():
        status = _get(http, f"{url}/api/v1/status/") or {}
        verdict.heads[name] = (
            status.get("height"),
            status.get("last_block_hash", ""),
            status.get("state_root", ""),
        )
        try:
            for height, block_hash in whole_chain(http, url).items():
                by_height[height][block_hash].add(f"{name} chain")
        except httpx.HTTPError as exc:
            verdict.problems.append(f"{name} chain unreadable: {exc}")
    for at, name, height, block_hash in samples:
        by_height[height][block_hash].add(f"{name} head at {at:.1f}s")
    for height in sorted(by_height):
        if len(by_height[height]) > 1:
            seen = {h[:12]: sorted(w)[:3] for h, w in by_height[height].items()}
            verdict.forks.append(f"height {height}: {seen}")
    if verdict.forks:
        verdict.problems.append(f"{len(verdict.forks)} heights with two different blocks")
    if len(set(verdict.heads.values())) != 1:
        verdict.problems.append("sites differ in head hash or state root")


def _progress(verdict: Verdict, applied, samples, voting_sets: list[VotingSet], healed_at_s: float) -> None:
    for run in applied:
        start, end = heights_between(samples, run.started_s, run.ended_s)
        could = [quorum_could_talk(run.phase, *voting) for voting in voting_sets]
        quorum = all(could)
        verdict.phases.append(
            {
                "name": run.phase.name,
                "describe": run.phase.describe(),
                "started_s": run.started_s,
                "duration_s": run.ended_s - run.started_s,
                "height_from": start,
                "height_to": end,
                "quorum": quorum,
            }
        )
        if not any(could) and end > start:
            verdict.moved_without_quorum.append(f"{run.phase.name} at {run.started_s:.1f}s: h {start}->{end}")
        if quorum and end == start and run.ended_s - run.started_s >= STALL_MIN_S:
            verdict.stalled.append(f"{run.phase.name} at {run.started_s:.1f}s")
    heals = [
        (b.started_s, b.ended_s)
        for a, b in zip(applied, applied[1:], strict=False)
        if a.phase.name != "calm" == b.phase.name
    ]
    for healed_s, calm_until_s in [*heals, (healed_at_s, float("inf"))]:
        at_heal = max([h for at, _, h, _ in samples if at <= healed_s] or [0])
        later = [at for at, _, h, _ in samples if at > healed_s and h > at_heal]
        if later:
            verdict.recoveries_s.append(round(min(later) - healed_s, 1))
            verdict.recoveries_across_fault += min(later) > calm_until_s
            if calm_until_s == float("inf"):
                verdict.final_recovery_s = verdict.recoveries_s[-1]
