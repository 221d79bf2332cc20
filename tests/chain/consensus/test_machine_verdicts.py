"""The height machine with a value whose validity is not known yet (its bodies are on their way)."""

from chain.consensus.machine import (
    NIL,
    PRECOMMIT,
    PREVOTE,
    PROPOSAL,
    PROPOSE,
    HeightMachine,
    Message,
    RoundState,
    Timeouts,
    ValidatorSet,
)

A, B, C, D = "aa", "bb", "cc", "dd"
VALUE = "ab" * 32
VALIDATORS = ValidatorSet({A: 1, B: 1, C: 1, D: 1}, frozenset({A}), proposer=lambda round: A)


def machine(verdict: bool | None, asked: list | None = None) -> HeightMachine:
    """This site is B; A proposes every round. ``asked`` collects the values whose validity it asks."""

    def valid(block_hash: str) -> bool | None:
        if asked is not None:
            asked.append(block_hash)
        return verdict

    m = HeightMachine(
        B, RoundState(1), VALIDATORS, Timeouts(3000, 1000, 500), valid=valid, get_value=lambda r: ""
    )
    m.start()
    return m


def votes(actions, type: str) -> list[str]:
    return [m.block_hash for m in actions.broadcast if m.type == type]


def test_a_proposal_without_a_verdict_gets_no_prevote_until_the_propose_timeout():
    m = machine(None)

    received = m.receive(Message(PROPOSAL, 1, 0, A, VALUE))

    assert votes(received, PREVOTE) == []
    assert m.state.step == PROPOSE
    assert votes(m.on_timeout(PROPOSE, 1, 0), PREVOTE) == [NIL]


def test_a_proposal_whose_verdict_came_gets_its_prevote():
    m = machine(True)

    assert votes(m.receive(Message(PROPOSAL, 1, 0, A, VALUE)), PREVOTE) == [VALUE]


def test_no_decision_on_a_value_without_a_verdict_even_with_a_commit_quorum():
    asked = []
    m = machine(None, asked)
    m.receive(Message(PROPOSAL, 1, 0, A, VALUE))
    for sender in (A, C, D):
        m.receive(Message(PRECOMMIT, 1, 0, sender, VALUE))

    assert m.state.decided == NIL
    assert asked == [VALUE], "asked once per step: the driver's answer holds until the next"
