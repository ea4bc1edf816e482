"""The agent catalog a voice-agent worker embeds: definitions and handoff graphs, cached, kept
fresh by the change feed.

Freshness guarantee (PostgreSQL). Every write records its events in its own transaction and
``pg_notify``s them; PostgreSQL delivers a notice only after the transaction has committed and is
visible to new snapshots. The catalog LISTENs on a connection of its own and evicts on each
notice. So: **a read that starts after the catalog has received the notice of a change never
returns data older than that change.** Reads that started before the notice may still return
what they read; they can never leave it in the cache (see :mod:`agents_core.runtime.cache`).

When the listening connection is lost the catalog stops trusting its cache at once (every read
goes to the database); once the feed is followed again it drops the whole cache and tells
subscribers to reload (a "reset" change), so no entry survives a notice it may have missed
(:mod:`agents_core.runtime.follower`). On SQLite the follower polls, and the guarantee becomes
"a read that starts after the poll that saw the change".

The parts: :class:`~agents_core.runtime.cache.CatalogCache` (single-flight loads,
generations), a :class:`~agents_core.runtime.follower.ChangeFollower`, and the statements of
:class:`~agents_core.runtime.repository.CatalogRepository`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar
from uuid import UUID

import msgspec
from sqlalchemy.engine import URL

from agents_core.db import Database
from agents_core.errors import VersionNotFound
from agents_core.runtime.cache import MISSING, CatalogCache
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, CatalogChange
from agents_core.runtime.follower import ChangeFollower, follower
from agents_core.runtime.repository import CatalogRepository

__all__ = ["AgentCatalog", "CatalogStats", "ChangeStream"]

logger = logging.getLogger("agents_core.runtime")

T = TypeVar("T")

_DEFINITION = 0
_GRAPH = 1
_VERSION = 2


class CatalogStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters since the catalog was opened."""

    entries: int
    hits: int
    misses: int
    changes: int
    """Change notices (or polled events) applied."""
    resets: int
    """Times the whole cache was dropped after the feed was lost and found again."""
    listening: bool
    """Whether the cache is in use: the feed is being followed (or, on SQLite, polled)."""


class ChangeStream:
    """The changes a catalog applies, as an async iterator (``async for change in stream``).

    Changes queue up to ``max_pending``; past that the queue is replaced by one reset change
    (the subscriber reloads everything instead of falling further behind).
    """

    def __init__(self, catalog: AgentCatalog, max_pending: int) -> None:
        self._catalog = catalog
        self._queue: asyncio.Queue[CatalogChange | None] = asyncio.Queue()
        self._max_pending = max_pending
        self._closed = False

    def _push(self, change: CatalogChange | None) -> None:
        if self._queue.qsize() >= self._max_pending:
            while not self._queue.empty():
                self._queue.get_nowait()
            change = _RESET
        self._queue.put_nowait(change)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> CatalogChange:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        change = await self._queue.get()
        if change is None:
            self._closed = True
            raise StopAsyncIteration
        return change

    def close(self) -> None:
        if not self._closed:
            self._catalog._streams.discard(self)
            self._push(None)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


_RESET = CatalogChange(organization_id=None, agent_id=None, version=None)

CatalogSource = str | URL | Database


class AgentCatalog:
    """Agent definitions and handoff graphs for a worker, from the database, cached.

    Open it with ``async with AgentCatalog.open(url_or_database) as catalog:``.
    """

    def __init__(
        self,
        database: Database,
        *,
        owns_database: bool = False,
        max_entries: int = 1024,
        poll_interval: float = 1.0,
        health_check_interval: float = 5.0,
        reconnect_delay: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self._database = database
        self._owns_database = owns_database
        self._cache = CatalogCache(max_entries)
        self._follower: ChangeFollower = follower(
            database,
            self,
            poll_interval=poll_interval,
            health_check_interval=health_check_interval,
            reconnect_delay=reconnect_delay,
        )
        self._streams: set[ChangeStream] = set()
        self._started = False
        self._changes = 0
        self._resets = 0

    # -- opening and closing ----------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, source: CatalogSource, **options: Any) -> AsyncIterator[AgentCatalog]:
        """A started catalog on a database URL or a :class:`Database` (shared, not closed);
        closed on exit. ``options`` are the constructor's keyword arguments."""
        if isinstance(source, Database):
            catalog = cls(source, **options)
        else:
            if isinstance(source, URL):
                source = source.render_as_string(hide_password=False)
            catalog = cls(Database(source), owns_database=True, **options)
        try:
            await catalog.start()
            yield catalog
        finally:
            await catalog.close()

    async def start(self) -> None:
        """Start following the change feed; returns once changes from now on will be seen."""
        if not self._started:
            self._started = True
            await self._follower.start()

    async def close(self) -> None:
        self._cache.distrust()
        await self._follower.close()
        for stream in list(self._streams):
            stream.close()
        if self._owns_database:
            await self._database.close()

    # -- reads ------------------------------------------------------------------------------------

    async def get(self, organization_id: UUID, agent_id: UUID) -> AgentDefinition:
        """The active agent as it is now, with its handoff targets' ids and names.

        :class:`~agents_core.errors.AgentNotFound` for a missing, deleted or foreign agent.
        """
        return await self._definition(organization_id, agent_id, None)

    async def graph(self, organization_id: UUID, entry_agent_id: UUID) -> AgentGraph:
        """The entry agent and every agent reachable from it through handoffs, in one query."""
        key = (_GRAPH, organization_id, entry_agent_id)
        cached = self._cache.cached(key)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]

        async def load(repository: CatalogRepository) -> tuple[AgentGraph, frozenset[UUID]]:
            graph = await repository.graph(organization_id, entry_agent_id)
            return graph, frozenset(graph.agents)

        return await self._load(key, load)

    async def get_version(
        self, organization_id: UUID, agent_id: UUID, version: int
    ) -> AgentDefinition:
        """The agent's configuration as it was at ``version`` (the live row for the current
        version, the saved snapshot for an older one), so that a call can stay on the version
        it started with. Handoff targets deleted since are left out.

        :class:`~agents_core.errors.VersionNotFound` for a version the agent never had.
        """
        if not 1 <= version < 2**31:
            raise VersionNotFound()
        return await self._definition(organization_id, agent_id, version)

    async def _definition(
        self, organization_id: UUID, agent_id: UUID, version: int | None
    ) -> AgentDefinition:
        """The live definition (``version`` None) or the one saved at ``version``, cached."""
        key = (
            (_DEFINITION, organization_id, agent_id)
            if version is None
            else (_VERSION, organization_id, agent_id, version)
        )
        cached = self._cache.cached(key)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]

        async def load(
            repository: CatalogRepository,
        ) -> tuple[AgentDefinition, frozenset[UUID]]:
            loaded = await repository.definition(organization_id, agent_id, version)
            return loaded.definition, loaded.depends_on

        return await self._load(key, load)

    async def _load(
        self,
        key: Hashable,
        loader: Callable[[CatalogRepository], Awaitable[tuple[T, frozenset[UUID]]]],
    ) -> T:
        async def read() -> tuple[T, frozenset[UUID]]:
            async with self._database.connect() as conn:
                return await loader(CatalogRepository(conn))

        return await self._cache.load(key, read)  # type: ignore[no-any-return]

    # -- following changes ------------------------------------------------------------------------

    def changes(self, max_pending: int = 1000) -> ChangeStream:
        """A stream of the changes this catalog applies from now on."""
        stream = ChangeStream(self, max_pending)
        self._streams.add(stream)
        return stream

    async def sync(self) -> None:
        """Return once every change committed before this call has been applied.

        Useful after a worker's own write, and in tests.
        """
        await self._follower.sync()

    async def poll(self) -> int:
        """Apply the events recorded since the last poll (SQLite); returns how many."""
        from agents_core.runtime.follower import PollingFollower

        if isinstance(self._follower, PollingFollower):
            return await self._follower.poll()
        return 0

    @property
    def stats(self) -> CatalogStats:
        return CatalogStats(
            entries=len(self._cache),
            hits=self._cache.hits,
            misses=self._cache.misses,
            changes=self._changes,
            resets=self._resets,
            listening=self._cache.trusted,
        )

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the LISTEN connection (PostgreSQL), if connected."""
        return self._follower.listener_pid

    # -- what the follower tells ------------------------------------------------------------------

    def changed(self, organization_id: UUID, agent_id: UUID, version: int) -> None:
        self._changes += 1
        self._cache.evict(agent_id)
        self._publish(
            CatalogChange(organization_id=organization_id, agent_id=agent_id, version=version)
        )

    def lost(self) -> None:
        self._cache.distrust()

    def found(self, *, first: bool) -> None:
        self._cache.trust()
        if not first:
            self._resets += 1
            self._publish(_RESET)

    def unreadable(self, payload: str) -> None:
        logger.warning("unreadable agent event notice %r: dropping the cache", payload)
        self._cache.clear()
        self._publish(_RESET)

    def _publish(self, change: CatalogChange) -> None:
        for stream in self._streams:
            stream._push(change)
