"""One height of Tendermint consensus: Algorithm 1 of "The latest gossip on BFT consensus".

Buchman, Kwon and Milosevic (2018, arXiv 1807.04938). The machine is pure: it
is fed messages and timeouts and answers with actions (broadcast a message,
schedule a timeout, decide). It neither signs, sends, sleeps nor stores; a
driver does (the site: chain.services.consensus.step; the tests: the simulation).
Values are block hashes: the driver holds the blocks and says which are valid.

Line numbers in comments refer to Algorithm 1. Where this differs:

- One machine per height. Deciding (line 49) ends it; the driver commits the
  block and starts a machine for the next height over the new validator set.
- Voting power is stake. "2f+1" is more than 2/3 of the total power, "f+1"
  more than 1/3. Deciding also needs a precommit of at least one authority
  (SPEC 6): the commit quorum is "more than 2/3 AND an authority".
- Votes are counted per value: a sender that signed two values for one
  (round, type) counts towards each (the paper counts messages, and Byzantine
  senders may sign anything), and the pair is returned as evidence of double
  signing. Counting only a sender's first vote would lose liveness: sites
  that saw different first votes of an equivocator could never agree that a
  locked value had its 2f+1 prevotes. "2f+1 of any" counts senders once.
- validValue and validRound also follow a proof-of-lock (the proposal and
  2f+1 prevotes for it) seen for an earlier round than the current one, if
  newer than validRound. The paper updates them in the current round only
  (line 36). This is safe: a proposer re-proposing validValue names
  validRound, and every receiver checks those 2f+1 prevotes itself (line 28).
  It makes recovery after a partition quicker: with a random proposer, the
  one site that saw the lock may otherwise wait many rounds for its turn.
- A value's validity may be not known yet (the driver's ``valid`` answers
  None: it lacks some of the block's transactions and fetches them). In the
  paper a proposal carries its value, so the proposal counts as not yet
  received: line 22 or 28 does not fire and the propose timeout (line 57)
  still prevotes nil; rules 36 and 49 wait as for an invalid value. A later
  step, once the bodies are here, asks again.
- The state (``RoundState``) is everything the upon-rules read besides the
  message log. It is persisted after every step, and re-evaluating the rules
  over a restored log yields no new action: each rule is guarded by the step
  or by a "first time" flag that is part of the state.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

PROPOSE, PREVOTE, PRECOMMIT = "propose", "prevote", "precommit"
PROPOSAL = "proposal"
NIL = ""
_STEP_ORDER = {PROPOSE: 0, PREVOTE: 1, PRECOMMIT: 2}


@dataclass(frozen=True, slots=True)
class Message:
    """A proposal (``pol_round`` = validRound, -1 if none) or a vote (``block_hash`` NIL for nil)."""

    type: str
    height: int
    round: int
    sender: str
    block_hash: str
    pol_round: int = -1


@dataclass(frozen=True, slots=True)
class Timeout:
    step: str
    height: int
    round: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two messages of one sender for one (height, round, type) naming different values."""

    first: Message
    second: Message


@dataclass
class RoundState:
    height: int
    round: int = 0
    step: str = PROPOSE
    locked_value: str = NIL
    locked_round: int = -1
    valid_value: str = NIL
    valid_round: int = -1
    #: Rounds in which the "for the first time" rules 34, 36 and 47 fired.
    prevote_timeout_round: int = -1
    valid_rule_round: int = -1
    precommit_timeout_round: int = -1
    started: bool = False
    decided: str = NIL
    decided_round: int = -1


@dataclass(frozen=True)
class ValidatorSet:
    """Voting power (stake) per validator, the authorities, and the proposer rule for this height."""

    power: dict[str, int]
    authorities: frozenset[str]
    proposer: Callable[[int], str]

    @property
    def total(self) -> int:
        return sum(self.power.values())

    def _weight(self, senders) -> int:
        return sum(self.power.get(s, 0) for s in set(senders))

    def quorum(self, senders) -> bool:
        """More than 2/3 of the power: "2f+1"."""
        return 3 * self._weight(senders) > 2 * self.total

    def one_honest(self, senders) -> bool:
        """More than 1/3 of the power: "f+1"."""
        return 3 * self._weight(senders) > self.total

    def commit_quorum(self, senders) -> bool:
        senders = set(senders)
        return self.quorum(senders) and bool(senders & self.authorities)


#: Timeouts stop growing at this round. Growth lets a slow but correct network
#: fit in a round eventually; without a cap, the rounds a long outage went
#: through set the pace after it heals (after an hour in which a quorum talked
#: but could not decide, the demo's rounds pass 60, and one round's timeouts
#: sum to about 100 s).
TIMEOUT_GROWTH_ROUNDS = 10


@dataclass(frozen=True)
class Timeouts:
    propose_ms: int
    vote_ms: int
    step_ms: int

    def of(self, step: str, round: int) -> int:
        """Timeouts grow with the round up to ``TIMEOUT_GROWTH_ROUNDS``, then stay."""
        base = self.propose_ms if step == PROPOSE else self.vote_ms
        return base + min(round, TIMEOUT_GROWTH_ROUNDS) * self.step_ms


@dataclass
class Actions:
    broadcast: list[Message] = field(default_factory=list)
    timeouts: list[Timeout] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)


class HeightMachine:
    """The upon-rules of Algorithm 1 for one height, over a message log."""

    def __init__(
        self,
        me: str,
        state: RoundState,
        validators: ValidatorSet,
        timeouts: Timeouts,
        *,
        valid: Callable[[str], bool | None],
        get_value: Callable[[int], str],
    ) -> None:
        self.me = me
        self.state = state
        self.validators = validators
        self.timeouts = timeouts
        self._valid = valid
        self._valid_cache: dict[str, bool | None] = {}
        self._get_value = get_value
        self.proposals: dict[int, Message] = {}
        #: (round, type) -> sender -> block hash -> the signed vote.
        self.votes: dict[tuple[int, str], dict[str, dict[str, Message]]] = {}
        self._senders_by_round: dict[int, set[str]] = {}
        self.actions = Actions()

    # --- input ---------------------------------------------------------------

    def restore(self, messages) -> None:
        """Put already-processed messages (own included) back in the log without evaluating."""
        for message in messages:
            self._record(message)
        self.actions = Actions()

    def start(self) -> Actions:
        """``upon start do StartRound(0)``: the driver calls it when there is work at this height."""
        if not self.state.started:
            self.state.started = True
            self._start_round(0)
        return self._evaluate()

    def receive(self, message: Message) -> Actions:
        if message.height == self.state.height and message.sender in self.validators.power:
            self._record(message)
        return self._evaluate()

    def on_timeout(self, step: str, height: int, round: int) -> Actions:
        s = self.state
        if height == s.height and round == s.round and s.started and not s.decided:
            if step == PROPOSE and s.step == PROPOSE:  # line 57
                self._broadcast(PREVOTE, NIL)
                s.step = PREVOTE
            elif step == PREVOTE and s.step == PREVOTE:  # line 61
                self._broadcast(PRECOMMIT, NIL)
                s.step = PRECOMMIT
            elif step == PRECOMMIT:  # line 65
                self._start_round(s.round + 1)
        return self._evaluate()

    def evaluate(self) -> Actions:
        return self._evaluate()

    # --- the log -------------------------------------------------------------

    def _record(self, message: Message) -> None:
        if message.type == PROPOSAL:
            if message.sender != self.validators.proposer(message.round):
                return
            first = self.proposals.setdefault(message.round, message)
        else:
            by_value = self.votes.setdefault((message.round, message.type), {}).setdefault(message.sender, {})
            first = next(iter(by_value.values()), message)
            by_value.setdefault(message.block_hash, message)
        if first.block_hash != message.block_hash:
            self.actions.evidence.append(Evidence(first, message))
        self._senders_by_round.setdefault(message.round, set()).add(message.sender)

    def _voters(self, round: int, type: str, block_hash: str | None = None) -> list[str]:
        votes = self.votes.get((round, type), {})
        return [s for s, values in votes.items() if block_hash is None or block_hash in values]

    def precommits_for(self, round: int, block_hash: str) -> list[Message]:
        """The signed precommits for ``block_hash`` in ``round``: a commit certificate."""
        votes = self.votes.get((round, PRECOMMIT), {})
        return [values[block_hash] for values in votes.values() if block_hash in values]

    def valid(self, block_hash: str) -> bool | None:
        """Whether the value is valid; None while the driver cannot tell yet (asked once per step)."""
        if block_hash not in self._valid_cache:
            self._valid_cache[block_hash] = bool(block_hash) and self._valid(block_hash)
        return self._valid_cache[block_hash]

    # --- actions -------------------------------------------------------------

    def _broadcast(self, type: str, block_hash: str, pol_round: int = -1) -> None:
        message = Message(type, self.state.height, self.state.round, self.me, block_hash, pol_round)
        self._record(message)
        self.actions.broadcast.append(message)

    def _schedule(self, step: str) -> None:
        s = self.state
        self.actions.timeouts.append(Timeout(step, s.height, s.round, self.timeouts.of(step, s.round)))

    def _start_round(self, round: int) -> None:  # line 11
        s = self.state
        s.round, s.step = round, PROPOSE
        if self.validators.proposer(round) == self.me:
            value = s.valid_value or self._get_value(round)
            if value:
                self._valid_cache[value] = True  # our own block, built by the driver
                self._broadcast(PROPOSAL, value, s.valid_round)
        # The timeout is scheduled for the proposer too: if it cannot make a
        # block, the round still moves on.
        self._schedule(PROPOSE)

    # --- the upon-rules ----------------------------------------------------------

    def _evaluate(self) -> Actions:
        while self.state.started and not self.state.decided and self._step_once():
            pass
        actions, self.actions = self.actions, Actions()
        return actions

    def _step_once(self) -> bool:
        """Fire the first rule whose condition holds; False when none does."""
        s, v = self.state, self.validators
        proposal = self.proposals.get(s.round)

        # line 49: decide, in any round for which we hold the proposal.
        for round, prop in sorted(self.proposals.items()):
            if v.commit_quorum(self._voters(round, PRECOMMIT, prop.block_hash)) and self.valid(
                prop.block_hash
            ):
                s.decided, s.decided_round = prop.block_hash, round
                return False

        if s.step == PROPOSE and proposal is not None:
            value, vr = proposal.block_hash, proposal.pol_round
            # A value not known valid or invalid yet: the proposal is not received in full.
            if vr == -1 and (valid := self.valid(value)) is not None:  # line 22
                ok = valid and (s.locked_round == -1 or s.locked_value == value)
                self._broadcast(PREVOTE, value if ok else NIL)
                s.step = PREVOTE
                return True
            if (
                0 <= vr < s.round
                and v.quorum(self._voters(vr, PREVOTE, value))
                and (valid := self.valid(value)) is not None
            ):  # line 28
                ok = valid and (s.locked_round <= vr or s.locked_value == value)
                self._broadcast(PREVOTE, value if ok else NIL)
                s.step = PREVOTE
                return True

        if (
            s.step == PREVOTE
            and s.prevote_timeout_round != s.round
            and v.quorum(self._voters(s.round, PREVOTE))
        ):
            s.prevote_timeout_round = s.round  # line 34
            self._schedule(PREVOTE)
            return True

        if (  # line 36
            proposal is not None
            and s.valid_rule_round != s.round
            and _STEP_ORDER[s.step] >= _STEP_ORDER[PREVOTE]
            and v.quorum(self._voters(s.round, PREVOTE, proposal.block_hash))
            and self.valid(proposal.block_hash)
        ):
            s.valid_rule_round = s.round
            if s.step == PREVOTE:
                s.locked_value, s.locked_round = proposal.block_hash, s.round
                self._broadcast(PRECOMMIT, proposal.block_hash)
                s.step = PRECOMMIT
            s.valid_value, s.valid_round = proposal.block_hash, s.round
            return True

        for round, prop in self.proposals.items():  # line 36 for earlier rounds, see above
            if (
                s.valid_round < round < s.round
                and v.quorum(self._voters(round, PREVOTE, prop.block_hash))
                and self.valid(prop.block_hash)
            ):
                s.valid_value, s.valid_round = prop.block_hash, round
                return True

        if s.step == PREVOTE and v.quorum(self._voters(s.round, PREVOTE, NIL)):  # line 44
            self._broadcast(PRECOMMIT, NIL)
            s.step = PRECOMMIT
            return True

        if s.precommit_timeout_round != s.round and v.quorum(self._voters(s.round, PRECOMMIT)):  # line 47
            s.precommit_timeout_round = s.round
            self._schedule(PRECOMMIT)
            return True

        for round in sorted(self._senders_by_round, reverse=True):  # line 55
            if round > s.round and v.one_honest(self._senders_by_round[round]):
                self._start_round(round)
                return True
        return False
