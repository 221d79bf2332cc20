"""One state machine: the protocol module lists every kind, table and hook, and everyone installs it.

The fingerprint below is pinned on purpose: a change to a kind's name, a table
or its fields, a begin-block hook or their order changes what every site
computes, so it must be made here, knowingly, and in every site at once.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import protocol
from chain.ledger.assembly import StateMachine, install, installed
from chain.ledger.block import BeginBlockHook, execute_block
from chain.ledger.kinds import KINDS
from chain.ledger.state import Account, MemoryStore, State

ROOT = Path(protocol.__file__).resolve().parent.parent
PINNED_FINGERPRINT = "c0c771b11b2a818f2a03f014643d6b6b1bec72faa374f99f3257a80d5fa330d8"


def fingerprint_in_a_fresh_process(code: str) -> str:
    """Run ``code`` in a Python without Django settings; it prints a fingerprint."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_protocols_fingerprint_is_pinned():
    assert protocol.FINGERPRINT == PINNED_FINGERPRINT, (
        "The state machine changed: if that is intended, pin the new fingerprint "
        f"{protocol.FINGERPRINT} and say in the commit what changed (protocol.outline)."
    )


def test_the_site_runs_the_protocol():
    """Django's start (protocol.apps) installed it: every kind, table, hook and capacity limit."""
    assert protocol.installed_fingerprint() == protocol.FINGERPRINT
    assert [k.name for k in installed().kinds] == [k.name for k in protocol.STATE_MACHINE.kinds]


def test_bench_matching_runs_the_sites_state_machine():
    """The benchmark imports no app config, and still runs the grid's capacity limits."""
    in_bench = fingerprint_in_a_fresh_process(
        "import bench.matching, protocol; print(protocol.installed_fingerprint())"
    )

    assert in_bench == protocol.installed_fingerprint()


def test_importing_the_apps_ledgers_installs_nothing():
    in_bare_process = fingerprint_in_a_fresh_process(
        "import governance.ledger.proposals, governance.ledger.validators, grid.ledger.kinds, "
        "meters.ledger.kinds, settlement.ledger.delivery, trading.ledger.orders, chain.ledger.evidence, protocol; "
        "from chain.ledger.assembly import StateMachine, fingerprint; "
        "print(fingerprint(protocol.outline(StateMachine((), (), ()), ())) == protocol.installed_fingerprint())"
    )

    assert in_bare_process == "True"


def test_every_kind_and_table_is_listed_once():
    machine = protocol.STATE_MACHINE
    duplicated = StateMachine(machine.kinds + machine.kinds[:1], machine.tables, machine.begin_block)

    with pytest.raises(ValueError, match="transfer"):
        install(duplicated)
    assert protocol.installed_fingerprint() == protocol.FINGERPRINT


@pytest.fixture
def reinstall_protocol():
    yield
    protocol.install()
    assert protocol.installed_fingerprint() == protocol.FINGERPRINT


def test_begin_block_hooks_run_in_the_listed_order(reinstall_protocol):
    ran = []
    hooks = tuple(
        BeginBlockHook(name, lambda state, ctx, name=name: ran.append(name))
        for name in ("z.first", "a.second")
    )
    install(StateMachine(protocol.STATE_MACHINE.kinds, protocol.STATE_MACHINE.tables, hooks))
    state = State(MemoryStore.holding([Account("ab" * 32, balance=1)]), 1)

    execute_block(
        state, [], chain_id="t", height=1, timestamp_ms=1, params={}, strict=True, verify_signatures=False
    )

    assert ran == ["z.first", "a.second"]
    assert "transfer" in KINDS
