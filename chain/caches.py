"""The two shapes of in-process cache the chain keeps, each keyed by what its value depends on.

A cache here is an object with a name and a docstring saying what it is keyed by
and when its value is invalid, not a module dict or an ``lru_cache`` over
arguments the function ignores. Each exists because a site's profile under load
showed the work it saves.
"""

import os
import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class LatestKeyCache(Generic[V]):
    """One value, for the latest key asked: computed again whenever the key changes.

    For values read from the committed state at one head: the key names that
    head (its block hash and state root) and whatever else the value depends
    on, so a new block invalidates it by changing the key. A test that edits
    the tables behind the ledger's back, at the same head, calls ``forget``
    (this process's memory only: no Redis or database is touched).
    """

    def __init__(self, compute: Callable[..., V]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._entry: tuple[Hashable, V] | None = None

    def get(self, *key: Hashable) -> V:
        """The value at ``key``: ``compute(*key)`` unless it was the key asked for last."""
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1]
        value = self._compute(*key)
        with self._lock:
            self._entry = (key, value)
        return value

    def forget(self) -> None:
        self._entry = None


class PerProcess(Generic[V]):
    """One value per process, made on first use: keyed by process id.

    Celery forks its workers after the parent may have made one: a child must
    not share its parent's sockets, threads or event loop, so it makes its own.
    """

    def __init__(self, make: Callable[[], V]) -> None:
        self._make = make
        self._lock = threading.Lock()
        self._by_pid: dict[int, V] = {}

    def get(self) -> V:
        pid = os.getpid()
        value = self._by_pid.get(pid)
        if value is None:
            with self._lock:
                value = self._by_pid.get(pid)
                if value is None:
                    # Whatever a parent process made is not this process's to use.
                    self._by_pid = {pid: (value := self._make())}
        return value
