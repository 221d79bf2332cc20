"""Ledger state: typed records in tables, a per-transaction overlay, the state root.

Records are frozen dataclasses; a transaction reads with ``get`` and writes with
``put``. Its writes sit in an overlay until ``commit_tx``, so a failed
transaction leaves no trace. The block's dirty records are then written by the
site's store in one set-based statement per table.

State root: an additive multiset hash over every record. Each record's leaf is
shake_256(domain || canonical_json([table, key, fields]), 256 bytes) read as a
2048-bit integer; the accumulator is their sum mod 2^2048 and the root is
sha256 of its 256 big-endian bytes. Updating one record costs two leaf hashes,
whatever the size of the state, and the result depends only on the set of
records, never on the order they were written in.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, fields
from json.encoder import encode_basestring_ascii
from operator import attrgetter
from typing import ClassVar, Protocol

from .encoding import MAX_SAFE_INTEGER, STATE_DOMAIN, canonical_json

ACCUMULATOR_BYTES = 256
ACCUMULATOR_MOD = 1 << (8 * ACCUMULATOR_BYTES)


class Record(Protocol):
    table: ClassVar[str]

    @property
    def key(self) -> str: ...


#: Per record class, a getter of all its fields at once (a tuple, in field order).
_FIELD_GETTERS: dict[type, attrgetter] = {}
#: A string as canonical_json's encoder writes it (ensure_ascii): quoted, escaped, ASCII only.
_json_string = encode_basestring_ascii


def leaf_bytes(table: str, record) -> bytes:
    """STATE_DOMAIN + canonical_json([table, key, fields]), byte for byte.

    Records are flat (int, str and bool fields), so the common case writes the array itself:
    each value's type and range checked here, strings escaped by the json module's own
    function (the one canonical_json's encoder calls), instead of a JSON encoder set up
    anew for every leaf. A record with anything else takes canonical_json itself and its
    errors. Leaf hashing is most of the state root's cost, and the root is paid every block.
    """
    return _leaf_bytes(table, record, _field_values(record))


def _field_values(record) -> tuple:
    getter = _FIELD_GETTERS.get(type(record))
    if getter is None:
        getter = _FIELD_GETTERS[type(record)] = attrgetter(*(f.name for f in fields(record)))
    values = getter(record)
    return values if isinstance(values, tuple) else (values,)  # attrgetter of a single name


def _leaf_bytes(table: str, record, values: tuple) -> bytes:
    key = record.key
    if type(key) is str:
        parts = []
        for value in values:
            kind = type(value)
            if kind is int:
                if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
                    break
                parts.append(int.__repr__(value))
            elif kind is str:
                parts.append(_json_string(value))
            elif kind is bool:
                parts.append("true" if value else "false")
            else:
                break
        else:
            array = f"[{_json_string(table)},{_json_string(key)},[{','.join(parts)}]]"
            return STATE_DOMAIN + array.encode("ascii")
    return STATE_DOMAIN + canonical_json([table, key, list(values)])


class _LeafMemo:
    """The leaf values of the records hashed lately, in two generations of at most ``size``.

    A block subtracts the leaf of each record it changes: the record as the last block
    wrote it, whose leaf this process computed then. Remembered, the root costs one leaf
    hash per changed record instead of two. Keyed by the table, the record's class, its
    field values and their exact types (``True == 1`` in Python, but they encode apart).
    When the newer generation is full it becomes the older one, and the older is dropped.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._newer: dict[tuple, int] = {}
        self._older: dict[tuple, int] = {}

    def get(self, key: tuple) -> int | None:
        value = self._newer.get(key)
        if value is None:
            value = self._older.get(key)
            if value is not None:
                self.put(key, value)
        return value

    def put(self, key: tuple, value: int) -> None:
        if len(self._newer) >= self.size:
            self._older, self._newer = self._newer, {}
        self._newer[key] = value


#: A block of 5,000 transfers changes about 10,000 records; an entry is about 0.6 KB, so a
#: process that computes roots holds at most about 20 MB of them.
_leaf_memo = _LeafMemo(16_384)
_FLAT_TYPES = frozenset((int, str, bool))


def _leaf_of_bytes(data: bytes) -> int:
    return int.from_bytes(hashlib.shake_256(data).digest(ACCUMULATOR_BYTES), "big")


def leaf_value(table: str, record) -> int:
    """The record's leaf as an integer: remembered for flat records (``_LeafMemo``)."""
    values = _field_values(record)
    types = tuple(map(type, values))
    if not _FLAT_TYPES.issuperset(types):
        return _leaf_of_bytes(_leaf_bytes(table, record, values))
    key = (table, type(record), values, types)
    value = _leaf_memo.get(key)
    if value is None:
        value = _leaf_of_bytes(_leaf_bytes(table, record, values))
        _leaf_memo.put(key, value)
    return value


def state_root(accumulator: int) -> str:
    return hashlib.sha256(accumulator.to_bytes(ACCUMULATOR_BYTES, "big")).hexdigest()


@dataclass(frozen=True, slots=True)
class Account:
    """Balances in the token's smallest unit; energy in Wh."""

    table: ClassVar[str] = "account"
    address: str
    balance: int = 0
    staked: int = 0
    unbonding: int = 0
    unbonding_release_height: int = 0
    escrow_tokens: int = 0
    energy_wh: int = 0
    escrow_wh: int = 0
    nonce: int = 0

    @property
    def key(self) -> str:
        return self.address

    @property
    def total_tokens(self) -> int:
        """Everything the account owns in tokens, locked or not: what supply sums."""
        return self.balance + self.staked + self.unbonding + self.escrow_tokens

    def with_balance(self, balance: int) -> "Account":
        """The account with another balance: a transfer's two records."""
        return self._with(balance, self.nonce)

    def with_next_nonce(self) -> "Account":
        """The account after one more included transaction."""
        return self._with(self.balance, self.nonce + 1)

    def _with(self, balance: int, nonce: int) -> "Account":
        """A copy with another balance and nonce, the fields every transaction touches.

        Spelled out, it costs a third of ``dataclasses.replace``, which walks the
        fields on each call.
        """
        return Account(
            address=self.address,
            balance=balance,
            staked=self.staked,
            unbonding=self.unbonding,
            unbonding_release_height=self.unbonding_release_height,
            escrow_tokens=self.escrow_tokens,
            energy_wh=self.energy_wh,
            escrow_wh=self.escrow_wh,
            nonce=nonce,
        )


@dataclass(frozen=True, slots=True)
class Validator:
    table: ClassVar[str] = "validator"
    public_key: str
    name: str
    url: str
    region: str
    authority: bool
    active: bool
    reputation_ppm: int = 1_000_000
    missed_in_row: int = 0
    missed_total: int = 0
    jailed: bool = False
    blocks_proposed: int = 0

    @property
    def key(self) -> str:
        return self.public_key


@dataclass(frozen=True, slots=True)
class Mining:
    """Whether a validator mines: proposes blocks, with their proof of work (the seed's
    ``start --mining``).

    A validator with no record mines (every chain before this record, and every new
    validator); one that set ``mining`` false still checks every block and votes, but the
    proposer draw passes it by (chain.ledger.validators.proposer_weights), so it never
    misses a slot it was not going to fill.
    """

    table: ClassVar[str] = "validator_mining"
    public_key: str
    mining: bool

    @property
    def key(self) -> str:
        return self.public_key


@dataclass(frozen=True, slots=True)
class Param:
    """A chain parameter changed after genesis (by governance): it overrides the genesis value.

    The parameters a block runs under are the genesis parameters overlaid with
    every Param record as committed before the block; a change made while a
    block runs takes effect from the next block.
    """

    table: ClassVar[str] = "param"
    name: str
    #: An int, a str, or a list/dict of them (e.g. the transmission paths), as in genesis.
    value: object

    @property
    def key(self) -> str:
        return self.name


#: The installed record classes by table name: filled by chain.ledger.assembly.install.
TABLES: dict[str, type] = {}


class StateStore(Protocol):
    """Where committed records come from: the site's database, or a dict in tests."""

    def load(self, table: str, keys: Iterable[str]) -> dict[str, object]: ...

    def scan(self, table: str, field: str, low: int, high: int) -> dict[str, object]:
        """Committed records whose integer ``field`` lies in [low, high]: a range read."""
        ...

    def load_all(self, table: str) -> dict[str, object]:
        """Every committed record of a small table (validators)."""
        ...

    def lowest(self, table: str, field: str, low: int) -> int | None:
        """The smallest integer ``field`` of a committed record at or above ``low`` (a due time)."""
        ...


class MemoryStore:
    """Records kept in dicts: the core's own tests and replays from genesis."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, object]] = {name: {} for name in TABLES}
        self.accumulator = 0

    @classmethod
    def holding(cls, records: Iterable) -> "MemoryStore":
        """A store whose committed state is ``records``: a genesis, or a test's accounts."""
        store = cls()
        state = State(store, 0)
        for record in records:
            state.put(record)
        state.commit_tx()
        store.write(state)
        return store

    def load(self, table: str, keys: Iterable[str]) -> dict[str, object]:
        rows = self.tables.setdefault(table, {})
        return {k: rows[k] for k in keys if k in rows}

    def scan(self, table: str, field: str, low: int, high: int) -> dict[str, object]:
        rows = self.tables.setdefault(table, {})
        return {k: r for k, r in rows.items() if low <= getattr(r, field) <= high}

    def load_all(self, table: str) -> dict[str, object]:
        return dict(self.tables.setdefault(table, {}))

    def lowest(self, table: str, field: str, low: int) -> int | None:
        values = [v for r in self.tables.setdefault(table, {}).values() if (v := getattr(r, field)) >= low]
        return min(values, default=None)

    def write(self, state: "State") -> None:
        for table, records in state.dirty_records().items():
            self.tables.setdefault(table, {}).update((r.key, r) for r in records)
        self.accumulator = state.accumulator

    @property
    def root(self) -> str:
        return state_root(self.accumulator)


_MISSING = object()


class State:
    """A block's working view of the ledger over a store, with a per-transaction overlay."""

    def __init__(self, store: StateStore, accumulator: int) -> None:
        self.store = store
        self._cache: dict[str, dict[str, object]] = {}
        self._dirty: dict[str, set[str]] = {}
        self._overlay: dict[tuple[str, str], object] = {}
        # The accumulator is folded lazily: a record changed by many transactions
        # of a block costs two leaf hashes when the root is asked for, not two per
        # transaction. ``_counted`` holds the version of each record the folded
        # sum includes; ``_unfolded`` the keys changed since the last fold.
        self._folded = accumulator
        self._counted: dict[tuple[str, str], object] = {}
        self._unfolded: set[tuple[str, str]] = set()

    def prefetch(self, table: str, keys: Iterable[str]) -> None:
        cache = self._cache.setdefault(table, {})
        wanted = [k for k in set(keys) if k not in cache]
        if not wanted:
            return
        found = self.store.load(table, wanted)
        for key in wanted:
            cache[key] = found.get(key)

    def get(self, table: str, key: str):
        """The record as this transaction sees it, or None."""
        pending = self._overlay.get((table, key), _MISSING)
        if pending is not _MISSING:
            return pending
        cache = self._cache.setdefault(table, {})
        if key not in cache:
            self.prefetch(table, [key])
        return cache[key]

    def scan(self, table: str, field: str, low: int, high: int) -> list:
        """Records whose integer ``field`` lies in [low, high] as this transaction sees them, by key.

        Kinds keep such a field as an index of their own (trading: the delivery
        slot of each open order, zero once it is closed) and read ranges of it
        instead of keys. Committed records come from the store once; records
        written earlier in this block are merged in, newer versions winning.
        """
        found = self.store.scan(table, field, low, high)
        cache = self._cache.setdefault(table, {})
        for key, record in found.items():
            cache.setdefault(key, record)
        keys = set(found) | self._dirty.get(table, set())
        keys.update(key for (t, key) in self._overlay if t == table)
        records = (self.get(table, key) for key in sorted(keys))
        return [r for r in records if r is not None and low <= getattr(r, field) <= high]

    def scan_all(self, table: str) -> list:
        """Every record of a small table as this transaction sees it, by key."""
        found = self.store.load_all(table)
        cache = self._cache.setdefault(table, {})
        for key, record in found.items():
            cache.setdefault(key, record)
        keys = set(found) | self._dirty.get(table, set())
        keys.update(key for (t, key) in self._overlay if t == table)
        records = (self.get(table, key) for key in sorted(keys))
        return [r for r in records if r is not None]

    def account(self, address: str) -> Account:
        """An account, or a fresh empty one (not stored until it is put)."""
        return self.get(Account.table, address) or Account(address=address)

    def put(self, record) -> None:
        self._overlay[(record.table, record.key)] = record

    def put_new(self, record) -> None:
        """Put a record whose key cannot exist yet (an id made from this transaction's hash).

        Its committed version is known to be none, so committing it reads nothing
        from the store: a block of thousands of trades is not thousands of reads.
        """
        self._cache.setdefault(record.table, {}).setdefault(record.key, None)
        self._overlay[(record.table, record.key)] = record

    def commit_tx(self) -> None:
        counted, unfolded = self._counted, self._unfolded
        for pair, record in self._overlay.items():
            table, key = pair
            cache = self._cache.setdefault(table, {})
            if key not in cache:
                self.prefetch(table, [key])  # the committed version leaves the sum
            if pair not in counted:
                counted[pair] = cache[key]
            unfolded.add(pair)
            cache[key] = record
            self._dirty.setdefault(table, set()).add(key)
        self._overlay.clear()

    @property
    def accumulator(self) -> int:
        """The multiset sum over every record as committed so far in this block."""
        for table, key in self._unfolded:
            old, new = self._counted[(table, key)], self._cache[table][key]
            if old is new:
                continue
            if old is not None:
                self._folded -= leaf_value(table, old)
            self._folded = (self._folded + leaf_value(table, new)) % ACCUMULATOR_MOD
            self._counted[(table, key)] = new
        self._unfolded.clear()
        return self._folded

    def rollback_tx(self) -> None:
        self._overlay.clear()

    def dirty_records(self) -> dict[str, list]:
        """Records changed in this block, per table, sorted by key (deterministic writes)."""
        return {table: [self._cache[table][k] for k in sorted(keys)] for table, keys in self._dirty.items()}

    @property
    def root(self) -> str:
        return state_root(self.accumulator)
