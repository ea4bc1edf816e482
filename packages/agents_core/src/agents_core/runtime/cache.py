"""The catalog's cache: a bounded LRU whose entries are evicted by what they depend on.

Every entry records what it was built from: agents (an agent definition: the agent and its
handoff targets, whose names it shows; a graph: every agent in it) or an environment (what it
serves). An event about an agent, or a move of an environment, evicts every entry that depends
on it. Entries read from a release depend on nothing: a release never changes.

The generation counter closes the race between a load and an eviction: a load notes the
generation before it reads the database and may only store its result if no eviction happened
meanwhile. A load that started before a change was announced may have read the old data; it can
still answer the caller that asked before the announcement, but it can never leave its result in
the cache after it.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Sequence
from typing import Any, Final

__all__ = ["MISSING", "CatalogCache", "DependencyCache", "Entry", "Loader"]

MISSING: Final[Any] = object()


class DependencyCache:
    __slots__ = ("_dependents", "_entries", "evictions", "generation", "max_entries")

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        self.generation = 0
        """Bumped by every eviction for a change and every clear."""
        self.evictions = 0
        """Entries dropped, for a change or to make room (not by a clear)."""
        self._entries: OrderedDict[Hashable, tuple[Any, frozenset[Hashable]]] = OrderedDict()
        self._dependents: dict[Hashable, set[Hashable]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Any:
        """The value, marked most recently used; :data:`MISSING` when absent."""
        entry = self._entries.get(key)
        if entry is None:
            return MISSING
        self._entries.move_to_end(key)
        return entry[0]

    def put(
        self, key: Hashable, value: Any, depends_on: Iterable[Hashable], generation: int
    ) -> bool:
        """Store a value loaded at ``generation``; refused (``False``) if anything was evicted
        since, because the value may predate that change."""
        if generation != self.generation:
            return False
        self._discard(key)
        deps = frozenset(depends_on)
        self._entries[key] = (value, deps)
        for dependency in deps:
            self._dependents.setdefault(dependency, set()).add(key)
        while len(self._entries) > self.max_entries:
            oldest = next(iter(self._entries))
            self._discard(oldest)
            self.evictions += 1
        return True

    def evict(self, dependency: Hashable) -> int:
        """Evict every entry built from ``dependency`` (an agent's id, an environment's key);
        returns how many there were."""
        self.generation += 1
        keys = self._dependents.pop(dependency, None)
        if not keys:
            return 0
        for key in list(keys):
            self._discard(key)
        self.evictions += len(keys)
        return len(keys)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()
        self._dependents.clear()

    def _discard(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is None:
            return
        for dependency in entry[1]:
            keys = self._dependents.get(dependency)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._dependents[dependency]


Entry = tuple[Hashable, Any, Iterable[Hashable]]
"""A value to cache: its key, the value, and what it was built from."""

Loader = Callable[[], Awaitable[tuple[Any, Sequence[Entry]]]]
"""Reads from the database: the answer for the callers, and the entries to cache (an answer
can fill several: what an environment serves and the agent in each of its releases)."""


class CatalogCache:
    """The catalog's cache: a :class:`DependencyCache` behind a trust switch, with loads made
    once for all concurrent callers (single flight) and stored only when no change was
    announced while they ran (generations).

    While not trusted (the change feed is lost), nothing is served from it and nothing stored.
    """

    __slots__ = ("_entries", "_flights", "_untrusted_since", "hits", "misses", "trusted")

    def __init__(self, max_entries: int) -> None:
        self._entries = DependencyCache(max_entries)
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}
        self.trusted = False
        self._untrusted_since = time.monotonic()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def evictions(self) -> int:
        return self._entries.evictions

    def untrusted_for(self) -> float:
        """Seconds since the cache stopped being used (0 while it is): how long every lookup
        has been going to the database because the change feed is lost."""
        return 0.0 if self.trusted else time.monotonic() - self._untrusted_since

    def cached(self, key: Hashable, *, counted: bool = True) -> Any:
        """The cached value for ``key``, or :data:`MISSING` (always while not trusted).
        ``counted=False`` for a step of a lookup that counts once (at its last step)."""
        if not self.trusted:
            return MISSING
        value = self._entries.get(key)
        if counted and value is not MISSING:
            self.hits += 1
        return value

    async def load(self, key: Hashable, loader: Loader) -> Any:
        """Load through ``loader``, once for all concurrent callers of the same generation
        (``key`` names the load); returns the loader's answer."""
        self.misses += 1
        generation = self._entries.generation
        flight = self._flights.get(key)
        if flight is not None and flight[0] == generation:
            return await asyncio.shield(flight[1])
        task = asyncio.ensure_future(self._fetch(key, loader, generation))
        self._flights[key] = (generation, task)
        task.add_done_callback(lambda done: self._land(key, done))
        return await asyncio.shield(task)

    async def _fetch(self, key: Hashable, loader: Loader, generation: int) -> Any:
        answer, entries = await loader()
        if self.trusted:
            # Refused when anything was evicted since ``generation``: the value may be older.
            for entry_key, value, depends_on in entries:
                self._entries.put(entry_key, value, depends_on, generation)
        return answer

    def _land(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None and flight[1] is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here even if every caller went away

    def evict(self, dependency: Hashable) -> None:
        self._entries.evict(dependency)

    def clear(self) -> None:
        self._entries.clear()

    def distrust(self) -> None:
        """Stop serving and storing: whatever is cached may have missed a change."""
        if self.trusted:
            self._untrusted_since = time.monotonic()
        self.trusted = False
        self._entries.clear()

    def trust(self) -> None:
        """Start afresh: nothing that was cached before is kept."""
        self._entries.clear()
        self.trusted = True
