"""Governance's ledger records: proposals, votes and the proposal counter.

Part of the state root like every record. Stake in units (10^-6 token),
heights in blocks, shares in parts per million (ppm).
"""

from dataclasses import dataclass
from typing import ClassVar

# Proposal status: open -> passed -> executed (or failed at execution), or open -> rejected.
OPEN = "open"
PASSED = "passed"
REJECTED = "rejected"
EXECUTED = "executed"
FAILED = "failed"

YES = "yes"
NO = "no"
ABSTAIN = "abstain"
OPTIONS = (YES, NO, ABSTAIN)


@dataclass(frozen=True, slots=True)
class Proposal:
    """One proposal; its id is the hash of the transaction that made it.

    ``open_end_height`` repeats ``voting_end_height`` while the proposal is open
    and ``due_execute_height`` repeats ``execute_height`` while it has passed and
    waits; both are 0 otherwise. They are the indexes the block-start hook scans.
    Quorum and threshold are copied from the parameters when the proposal is
    made, so a change of them never alters a vote already running.
    """

    table: ClassVar[str] = "gov_proposal"
    proposal_id: str
    #: 1, 2, 3... in the order proposals were made: what people call it, and the votes' index.
    number: int
    proposer: str
    title: str
    description: str
    #: One of rules.ACTIONS; ``action_args`` is its arguments as canonical JSON.
    action: str
    action_args: str
    created_height: int
    voting_end_height: int
    execute_height: int
    quorum_ppm: int
    threshold_ppm: int
    status: str
    yes_stake: int = 0
    no_stake: int = 0
    abstain_stake: int = 0
    #: Everything staked on the chain when the votes were counted: the quorum's base.
    total_stake: int = 0
    voters: int = 0
    tallied_height: int = 0
    executed_height: int = 0
    #: The first block that runs under the change (executed_height + 1), 0 until then.
    effective_height: int = 0
    outcome: str = ""
    open_end_height: int = 0
    due_execute_height: int = 0

    @property
    def key(self) -> str:
        return self.proposal_id


@dataclass(frozen=True, slots=True)
class Vote:
    """One account's current vote on one proposal; a later vote replaces it until the period ends."""

    table: ClassVar[str] = "gov_vote"
    vote_id: str
    proposal_id: str
    proposal_number: int
    voter: str
    option: str
    height: int
    #: How many times the voter changed their mind (0 for a first vote).
    changes: int = 0

    @property
    def key(self) -> str:
        return self.vote_id


@dataclass(frozen=True, slots=True)
class Counter:
    """A named running count (``proposals``): numbers that must agree on every site."""

    table: ClassVar[str] = "gov_counter"
    name: str
    value: int

    @property
    def key(self) -> str:
        return self.name


def vote_id(proposal_id: str, voter: str) -> str:
    return f"{proposal_id}:{voter}"
