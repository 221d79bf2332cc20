"""A seeded schedule of network faults, and the thread that applies it to a FaultNetwork.

``schedule(seed, ...)`` is a pure function: the same seed, length and sites give the
same phases. Each ``Phase`` states the whole fault state it wants (pairs that cannot
talk, link figures, sites down, clock offsets), so applying one is a difference from
the last, and every fault heals when a phase without it follows. Faults alternate
with short calm phases; the kinds go round in a seeded order so a short run still
meets most of them.
"""

import itertools
import random
import threading
import time
from dataclasses import asdict, dataclass, field

from localnet.network import kill_site, restart_site

#: Beyond the 5 s a block timestamp may run ahead of a site's clock (max_clock_drift_ms),
#: within the 30 s a peer request's stamp may be off (peer_auth.MAX_SKEW_MS).
SKEW_MS_RANGE = (8_000, 20_000)
FAULT_KINDS = (
    "majority_minority",
    "isolated_authority",
    "bridge",
    "split_halves",
    "slow_links",
    "kill_restart",
    "clock_skew",
)


@dataclass(frozen=True)
class Phase:
    name: str
    duration_s: float
    #: Pairs of site names that cannot reach each other.
    blocked: tuple[tuple[str, str], ...] = ()
    #: Site name -> {delay_ms, jitter_ms, loss_pct, reset_pct}.
    links: dict = field(default_factory=dict)
    down: tuple[str, ...] = ()
    #: Site name -> wall clock offset in ms.
    clock_ms: dict = field(default_factory=dict)

    def describe(self) -> str:
        parts = []
        if self.blocked:
            parts.append("cut " + " ".join(f"{a}-{b}" for a, b in self.blocked))
        for name, figures in self.links.items():
            parts.append(f"{name} link {figures}")
        if self.down:
            parts.append("killed " + ",".join(self.down))
        for name, offset in self.clock_ms.items():
            parts.append(f"{name} clock {offset:+d} ms")
        return f"{self.name} {self.duration_s:.1f}s" + (": " + "; ".join(parts) if parts else "")

    def to_json(self) -> dict:
        return asdict(self)


def _cut(side_a, side_b) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(tuple(sorted((a, b))) for a in side_a for b in side_b if a != b))


def _fault(kind: str, rng: random.Random, names: list[str], authorities: list[str], duration: float):
    """The phases of one fault of ``kind`` (most one phase; clock skew goes forward, then back)."""
    shuffled = rng.sample(names, len(names))
    if kind == "majority_minority":
        lone = shuffled[0]
        return [Phase(kind, duration, blocked=_cut([lone], shuffled[1:]))]
    if kind == "isolated_authority":
        lone = rng.choice(authorities)
        return [Phase(kind, duration, blocked=_cut([lone], [n for n in names if n != lone]))]
    if kind == "bridge":
        # Two sides that both see the bridge, which alone sees everyone.
        half = len(shuffled) // 2
        bridge, left, right = shuffled[0], shuffled[1 : half + 1], shuffled[half + 1 :]
        return [Phase(f"{kind}({bridge})", duration, blocked=_cut(left, right))]
    if kind == "split_halves":
        half = len(shuffled) // 2
        return [Phase(kind, duration, blocked=_cut(shuffled[:half], shuffled[half:]))]
    if kind == "slow_links":
        slow = shuffled[: rng.randint(1, len(names))]
        links = {}
        for name in slow:
            delay = rng.choice([20, 50, 100, 250, 500])
            links[name] = {
                "delay_ms": delay,
                "jitter_ms": rng.randint(0, delay),
                "loss_pct": rng.choice([0, 1, 5, 20]),
                "reset_pct": rng.choice([0, 0, 2, 10]),
            }
        return [Phase(kind, duration, links=dict(sorted(links.items())))]
    if kind == "kill_restart":
        return [Phase(kind, duration, down=(shuffled[0],))]
    if kind == "clock_skew":
        victim, offset = shuffled[0], rng.randint(*SKEW_MS_RANGE) * rng.choice([1, -1])
        return [
            Phase(
                f"{kind}(forward)" if offset > 0 else f"{kind}(back)", duration / 2, clock_ms={victim: offset}
            ),
            Phase(
                f"{kind}(back)" if offset > 0 else f"{kind}(forward)",
                duration / 2,
                clock_ms={victim: -offset},
            ),
        ]
    raise ValueError(f"unknown fault kind {kind!r}")


def schedule(
    seed: int,
    *,
    seconds: float,
    names: list[str],
    authorities: list[str],
    fault_s: tuple[float, float] = (4.0, 8.0),
    calm_s: tuple[float, float] = (2.0, 4.0),
) -> list[Phase]:
    """Faults and calm phases filling about ``seconds``, starting and ending calm."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible schedule, not a secret
    order = rng.sample(FAULT_KINDS, len(FAULT_KINDS))
    phases = [Phase("calm", round(rng.uniform(*calm_s), 2))]
    elapsed = phases[0].duration_s
    for kind in itertools.cycle(order):
        if elapsed >= seconds:
            break
        duration = round(rng.uniform(*fault_s), 2)
        phases += _fault(kind, rng, names, authorities, duration)
        calm = round(rng.uniform(*calm_s), 2)
        phases.append(Phase("calm", calm))
        elapsed += duration + calm
    return phases


@dataclass
class AppliedPhase:
    """A phase as it ran: when it started and ended (seconds since the run began)."""

    phase: Phase
    started_s: float
    ended_s: float = 0.0


class Nemesis(threading.Thread):
    """Applies the phases in order, each for its duration, then heals everything."""

    def __init__(self, net, phases: list[Phase], clock_zero: float):
        super().__init__(name="nemesis", daemon=True)
        self.net = net
        self.phases = phases
        self.clock_zero = clock_zero
        self.applied: list[AppliedPhase] = []
        self.error: BaseException | None = None
        self.current = Phase("start", 0)

    def now_s(self) -> float:
        return time.monotonic() - self.clock_zero

    def run(self) -> None:
        try:
            for phase in self.phases:
                started = self.now_s()
                print(f"nemesis t={started:6.1f}s  {phase.describe()}", flush=True)
                self.apply(phase)
                self.applied.append(AppliedPhase(phase, started))
                time.sleep(max(0.0, started + phase.duration_s - self.now_s()))
                self.applied[-1].ended_s = self.now_s()
            self.apply(Phase("healed", 0))
        except BaseException as exc:  # noqa: BLE001 - the runner reports it and heals
            self.error = exc

    def apply(self, phase: Phase) -> None:
        """Move the network from the current fault state to ``phase``'s."""
        net, before = self.net, self.current
        net.partition({frozenset(pair) for pair in phase.blocked})
        net.write_links(phase.links)
        for name in set(before.clock_ms) | set(phase.clock_ms):
            net.skew_clock(name, phase.clock_ms.get(name, 0))
        for name in set(phase.down) - set(before.down):
            kill_site(net.host(name).site)
        self.current = phase
        for name in set(before.down) - set(phase.down):
            restart_site(net.host(name).site, timeout=120)

    def heal(self) -> None:
        """Undo every fault now (after an error, or when the run is cut short)."""
        self.apply(Phase("healed", 0))
