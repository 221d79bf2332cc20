"""Installing a state machine: which kinds, record tables and begin-block hooks a site runs.

The core holds the registries ``execute_block`` reads (kinds.KINDS,
state.TABLES, block.BEGIN_BLOCK_HOOKS) but never chooses what is in them: the
protocol module at the composition root lists every kind, table and hook in
order and installs them with one call, so a site, a benchmark and a test run
the same state machine. Installing replaces whatever was installed before.
"""

from dataclasses import dataclass, fields

from .block import BEGIN_BLOCK_HOOKS, BeginBlockHook
from .encoding import canonical_json, sha256_hex
from .kinds import KINDS, TxKind
from .state import TABLES


@dataclass(frozen=True)
class StateMachine:
    kinds: tuple[TxKind, ...]
    #: Record classes: each has a ``table`` name, and its fields are hashed into the state root.
    tables: tuple[type, ...]
    #: Run in this order at the start of every block.
    begin_block: tuple[BeginBlockHook, ...]

    def outline(self) -> dict:
        """What decides behaviour, as plain data: kind names, tables and their fields, hook order."""
        return {
            "kinds": [kind.name for kind in self.kinds],
            "tables": [[table.table, [f.name for f in fields(table)]] for table in self.tables],
            "begin_block": [hook.name for hook in self.begin_block],
        }


def fingerprint(outline: dict) -> str:
    """sha256 of the canonical JSON of ``outline``: equal fingerprints, same state machine."""
    return sha256_hex(canonical_json(outline))


def install(machine: StateMachine) -> None:
    """Make ``machine`` the one ``execute_block`` and admission run; names must be unique."""
    for kind, names in (
        ("kind", [k.name for k in machine.kinds]),
        ("table", [t.table for t in machine.tables]),
        ("begin-block hook", [h.name for h in machine.begin_block]),
    ):
        if len(set(names)) != len(names):
            raise ValueError(f"A {kind} is listed twice: {names}")
    KINDS.clear()
    KINDS.update((k.name, k) for k in machine.kinds)
    TABLES.clear()
    TABLES.update((t.table, t) for t in machine.tables)
    BEGIN_BLOCK_HOOKS.clear()
    BEGIN_BLOCK_HOOKS.update((h.name, h) for h in machine.begin_block)


def installed() -> StateMachine:
    """The state machine this process runs now."""
    return StateMachine(tuple(KINDS.values()), tuple(TABLES.values()), tuple(BEGIN_BLOCK_HOOKS.values()))
