"""A deterministic simulation of the consensus among sites: simulated clock, simulated network.

Each simulated site runs the real ``HeightMachine`` through the same driver
duties as a site: persist the state after each step, re-arm timeouts after a
restart, rebroadcast the height's messages when stuck (the gossip that makes
lost messages arrive eventually), and sync decided heights with their commit
certificates from peers that are ahead. The network delays, loses, duplicates
and reorders messages and can be partitioned; sites crash and restart; one
validator may be Byzantine (equivocates, proposes invalid blocks, forges
certificates). Nothing sleeps: events run in simulated-time order from a seeded
random generator, so a seed replays exactly.
"""

import copy
import hashlib
import heapq
import random
from dataclasses import dataclass, field

from chain.ledger.validators import proposer_for

from .machine import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    PROPOSAL,
    HeightMachine,
    Message,
    RoundState,
    Timeouts,
    ValidatorSet,
)

TIMEOUTS = Timeouts(propose_ms=300, vote_ms=200, step_ms=100)
GOSSIP_MS = 250
#: A site starts its next height this long after deciding (the site's block
#: tick), or sooner when a peer's message for that height arrives.
BLOCK_INTERVAL_MS = 200
HEALED_DELAY_MS = 50


def valid_value(value: str) -> bool:
    return bool(value) and not value.startswith("bad")


@dataclass
class Commit:
    """What a site serves to one that is behind: the decided value and its precommits."""

    height: int
    value: str
    precommits: list[Message]


@dataclass
class SimSite:
    name: str
    up: bool = True
    height: int = 1
    #: Persisted: the round state and every message of the current height (own included).
    saved_state: RoundState | None = None
    saved_log: list[Message] = field(default_factory=list)
    future: list[Message] = field(default_factory=list)
    timeouts: list[tuple[int, str, int, int]] = field(default_factory=list)
    decided: dict[int, str] = field(default_factory=dict)
    #: Height -> the simulated time this site committed it (decided or synced).
    decided_at: dict[int, int] = field(default_factory=dict)
    certificates: dict[int, Commit] = field(default_factory=dict)
    evidence: list = field(default_factory=list)
    machine: HeightMachine | None = None
    last_progress: int = 0


@dataclass
class Faults:
    #: Chances, per mille, that a message is lost or delivered twice.
    loss_permille: int = 0
    duplicate_permille: int = 0
    max_delay_ms: int = 50
    #: Sites that are cut off from the rest until ``heal_ms``.
    partition: frozenset[str] = frozenset()
    #: (site, crash_ms, restart_ms)
    crashes: list[tuple[str, int, int]] = field(default_factory=list)
    byzantine: str | None = None
    #: Faults (loss, duplication, long delays, partitions, crashes) stop at this time;
    #: from then on a message takes at most ``HEALED_DELAY_MS``.
    heal_ms: int = 0


class Simulation:
    def __init__(
        self, seed: int, names: list[str], power: dict[str, int], authorities: set[str], faults: Faults
    ):
        self.rng = random.Random(seed)
        self.now = 0
        self.events: list = []
        self.seq = 0
        self.faults = faults
        self.names = names
        self.validators_power = power
        self.authorities = frozenset(authorities)
        self.sites = {n: SimSite(n) for n in names if n != faults.byzantine}
        #: Every message some validator really signed: a certificate may only hold these.
        self.signed: set[Message] = set()
        self.steps = 0
        self.byz_done: set[tuple] = set()

    # --- helpers -------------------------------------------------------------

    def validator_set(self, height: int) -> ValidatorSet:
        seed = hashlib.sha256(f"height-{height}".encode()).hexdigest()
        power = self.validators_power
        return ValidatorSet(power, self.authorities, lambda round: proposer_for(power, seed, round))

    def push(self, at: int, event: tuple) -> None:
        self.seq += 1
        heapq.heappush(self.events, (at, self.seq, event))

    def faulty(self) -> bool:
        return self.now < self.faults.heal_ms

    def send(self, sender: str, to: str, payload) -> None:
        if to == sender:
            return
        if self.faulty():
            cut = self.faults.partition
            if (sender in cut) != (to in cut) or self.rng.randrange(1000) < self.faults.loss_permille:
                return
        copies = 2 if self.faulty() and self.rng.randrange(1000) < self.faults.duplicate_permille else 1
        max_delay = (
            self.faults.max_delay_ms if self.faulty() else min(self.faults.max_delay_ms, HEALED_DELAY_MS)
        )
        for _ in range(copies):
            self.push(self.now + self.rng.randint(1, max_delay), ("deliver", to, sender, payload))

    def broadcast(self, sender: str, payload) -> None:
        for name in self.names:
            self.send(sender, name, payload)

    # --- a site's driver -----------------------------------------------------

    def _machine(self, site: SimSite) -> HeightMachine:
        if site.machine is None:
            state = copy.copy(site.saved_state) if site.saved_state else RoundState(site.height)
            machine = HeightMachine(
                site.name,
                state,
                self.validator_set(site.height),
                TIMEOUTS,
                valid=valid_value,
                get_value=lambda round: f"v{site.height}.{round}.{site.name}",
            )
            machine.restore(site.saved_log)
            site.machine = machine
        return site.machine

    def _after_step(self, site: SimSite, actions) -> None:
        """Persist, then act: as the site does, messages leave only once saved."""
        machine = site.machine
        for message in actions.broadcast:
            site.saved_log.append(message)
        site.saved_state = copy.copy(machine.state)  # its fields are ints and strings: a whole copy
        site.evidence.extend(actions.evidence)
        for timeout in actions.timeouts:
            due = self.now + timeout.duration_ms
            site.timeouts.append((due, timeout.step, timeout.height, timeout.round))
            self.push(due, ("timeout", site.name, timeout.step, timeout.height, timeout.round))
        for message in actions.broadcast:
            self.signed.add(message)
            self.broadcast(site.name, message)
        if machine.state.decided:
            self._commit(site, machine.state.decided, machine.state.decided_round)

    def _commit(self, site: SimSite, value: str, round: int) -> None:
        height = site.height
        precommits = site.machine.precommits_for(round, value)
        self._apply_commit(site, Commit(height, value, precommits))

    def _apply_commit(self, site: SimSite, commit: Commit) -> None:
        site.decided[commit.height] = commit.value
        site.decided_at[commit.height] = self.now
        site.certificates[commit.height] = commit
        site.height = commit.height + 1
        site.saved_state, site.saved_log, site.machine = None, [], None
        site.timeouts = [t for t in site.timeouts if t[2] > commit.height]
        self.push(self.now + BLOCK_INTERVAL_MS, ("start", site.name, site.height))
        waiting, site.future = site.future, []
        for message in waiting:
            self._receive_message(site, message)

    def _receive_message(self, site: SimSite, message: Message) -> None:
        if message.height > site.height:
            site.future.append(message)
            return
        if message.height < site.height:
            return
        machine = self._machine(site)
        if message not in site.saved_log:
            site.saved_log.append(message)
        actions = machine.receive(message)
        if not machine.state.started:  # a peer has work at this height: so do we
            actions = machine.start()
        self._after_step(site, actions)

    def certificate_valid(self, commit: Commit) -> bool:
        validators = self.validator_set(commit.height)
        voters = []
        for vote in commit.precommits:
            if vote not in self.signed or vote.type != PRECOMMIT or vote.height != commit.height:
                return False
            if vote.block_hash != commit.value:
                return False
            voters.append(vote.sender)
        return validators.commit_quorum(voters) and valid_value(commit.value)

    def on_deliver(self, to: str, sender: str, payload) -> None:
        site = self.sites.get(to)
        if site is None or not site.up:
            return
        if isinstance(payload, Commit):
            if payload.height == site.height and self.certificate_valid(payload):
                self._apply_commit(site, payload)
            return
        if isinstance(payload, tuple) and payload[0] == "sync":
            for height in range(payload[1], site.height):
                self.send(to, sender, site.certificates[height])
            return
        message: Message = payload
        if message.height > site.height:
            self.send(to, sender, ("sync", site.height))
        elif message.height < site.height and message.height in site.certificates:
            self.send(to, sender, site.certificates[message.height])
        self._receive_message(site, message)

    def on_timeout(self, name: str, step: str, height: int, round: int) -> None:
        site = self.sites[name]
        entry = next((t for t in site.timeouts if t[1:] == (step, height, round)), None)
        if not site.up or entry is None or entry[0] != self.now:
            return
        site.timeouts.remove(entry)
        if height == site.height:
            self._after_step(site, self._machine(site).on_timeout(step, height, round))

    def on_gossip(self, name: str) -> None:
        site = self.sites[name]
        self.push(self.now + GOSSIP_MS, ("gossip", name))
        if not site.up:
            return
        progress = site.height
        if progress == site.last_progress:  # stuck at this height: resend all we hold of it
            for message in site.saved_log:
                self.broadcast(name, message)
        site.last_progress = progress

    def crash(self, name: str) -> None:
        site = self.sites[name]
        site.up, site.machine = False, None  # memory is lost; saved state is not

    def restart(self, name: str) -> None:
        site = self.sites[name]
        site.up = True
        machine = self._machine(site)
        for due, step, height, round in list(site.timeouts):
            site.timeouts.remove((due, step, height, round))
            site.timeouts.append((max(due, self.now), step, height, round))
            self.push(max(due, self.now), ("timeout", name, step, height, round))
        self._after_step(site, machine.start())

    # --- the Byzantine validator ---------------------------------------------

    def byzantine_act(self, height: int, round: int) -> None:
        """Equivocate in (height, round): two proposals, and votes for two values, to two halves."""
        byz = self.faults.byzantine
        if byz is None or (height, round) in self.byz_done:
            return
        self.byz_done.add((height, round))
        honest = sorted(self.sites)
        half = self.rng.sample(honest, len(honest) // 2)
        values = (f"byz{height}.{round}.a", f"bad{height}.{round}")
        validators = self.validator_set(height)
        for i, group in enumerate((half, [n for n in honest if n not in half])):
            value = values[i % 2]
            messages = [
                Message(PREVOTE, height, round, byz, value),
                Message(PRECOMMIT, height, round, byz, value),
            ]
            if validators.proposer(round) == byz:
                messages.insert(0, Message(PROPOSAL, height, round, byz, value))
            for message in messages:
                self.signed.add(message)
                for name in group:
                    self.send(byz, name, message)
        # A forged certificate for a bad value: honest sites must refuse it.
        forged = Commit(height, values[1], [Message(PRECOMMIT, height, round, n, values[1]) for n in honest])
        for name in honest:
            self.send(byz, name, forged)

    # --- running -------------------------------------------------------------

    def run(self, until_ms: int) -> None:
        """Run the events up to ``until_ms``; call again to go on."""
        if not self.steps:
            for name in self.sites:
                self.push(self.rng.randint(0, 20), ("start", name, 1))
                self.push(GOSSIP_MS, ("gossip", name))
            for name, crash_ms, restart_ms in self.faults.crashes:
                if name in self.sites:
                    self.push(crash_ms, ("crash", name))
                    self.push(restart_ms, ("restart", name))
        while self.events and self.events[0][0] <= until_ms:
            self.now, _, event = heapq.heappop(self.events)
            self.steps += 1
            kind = event[0]
            if kind == "start":
                site = self.sites[event[1]]
                if site.up and site.height == event[2]:
                    self._after_step(site, self._machine(site).start())
            elif kind == "deliver":
                _, to, sender, payload = event
                if isinstance(payload, Message) and self.faults.byzantine:
                    self.byzantine_act(payload.height, payload.round)
                self.on_deliver(to, sender, payload)
            elif kind == "timeout":
                self.on_timeout(*event[1:])
            elif kind == "gossip":
                self.on_gossip(event[1])
            elif kind == "crash":
                self.crash(event[1])
            elif kind == "restart":
                self.restart(event[1])

    def end(self) -> None:
        """Stop for good: free the event queue and the sites' working state, keep what the checks read.

        A run of thousands of seeds keeps every seed's verdicts, not its messages.
        """
        self.events, self.signed, self.byz_done = [], set(), set()
        for site in self.sites.values():
            site.machine, site.saved_state, site.saved_log, site.future = None, None, [], []

    # --- checks --------------------------------------------------------------

    def conflicting_commits(self) -> list[tuple[int, set[str]]]:
        """Heights at which two honest sites decided different values (must be none)."""
        heights = {h for s in self.sites.values() for h in s.decided}
        conflicts = []
        for height in sorted(heights):
            values = {s.decided[height] for s in self.sites.values() if height in s.decided}
            if len(values) > 1:
                conflicts.append((height, values))
        return conflicts

    def heights(self) -> dict[str, int]:
        return {name: site.height - 1 for name, site in self.sites.items()}

    def recovery_ms(self, heights_at_heal: dict[str, int]) -> int | None:
        """Time from the heal until every honest site holds a block decided after it; None if not yet.

        The block is the one above the highest any site had at the heal: the
        first the network as a whole decides once the faults are over.
        """
        target = max(heights_at_heal.values()) + 1
        times = [site.decided_at.get(target) for site in self.sites.values()]
        if None in times:
            return None
        return max(times) - self.faults.heal_ms


__all__ = ["Faults", "Simulation", "NIL", "PREVOTE"]
