"""The agent catalog a voice-agent worker embeds: definitions and handoff graphs, cached, kept
fresh by the change feed. Calls are served through an environment (:meth:`AgentCatalog.resolve`,
:meth:`AgentCatalog.graph` with ``environment=``): the release it serves, at the versions that
release pins; :meth:`AgentCatalog.get` and :meth:`AgentCatalog.graph` without one serve the
working configuration.

Freshness guarantee (PostgreSQL). Every write records its events in its own transaction and
``pg_notify``s them; PostgreSQL delivers a notice only after the transaction has committed and is
visible to new snapshots. The catalog LISTENs on a connection of its own and evicts on each
notice. So: **a read that starts after the catalog has received the notice of a change never
returns data older than that change.** Reads that started before the notice may still return
what they read; they can never leave it in the cache (see :mod:`agents_core.runtime.cache`).

Through an environment the same holds for its moves: a move (or a deletion) of an environment
notifies like a change, and evicts what the environment serves. So **a resolve that starts after
the catalog has received the notice of a move never serves a release older than that move.**
What a release pins never changes, so agents and graphs read from a release are cached by
release and never evicted by a change (only by the cache's bound): a move evicts one entry, and
the next call reads where the environment points now.

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
from typing import Any, Final, Generic, Self, TypeVar
from uuid import UUID

import msgspec
from sqlalchemy.engine import URL

from agents_core.db import Database
from agents_core.errors import AgentNotFound, VersionNotFound
from agents_core.runtime.cache import MISSING, CatalogCache, Entry
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, CatalogChange
from agents_core.runtime.follower import ChangeFollower, follower
from agents_core.runtime.repository import CatalogRepository, Served

__all__ = ["AgentCatalog", "CatalogStats", "ChangeStream"]

logger = logging.getLogger("agents_core.runtime")

T = TypeVar("T")

# Cache keys start with one of these.
_DEFINITION = 0
_GRAPH = 1
_VERSION = 2
_SERVING = 3  # what an environment serves
_RELEASED = 4  # an agent as a release pins it
_RELEASE_GRAPH = 5  # a graph in a release
# Loads (single flight) through an environment.
_SERVED = 6
_SERVED_GRAPHS = 7


def _environment(organization_id: UUID, environment: str) -> tuple[str, UUID, str]:
    """What an environment's entries depend on (its moves evict them)."""
    return ("environment", organization_id, environment)


class CatalogStats(msgspec.Struct, frozen=True, kw_only=True):
    """Counters since the catalog was opened."""

    entries: int
    hits: int
    misses: int
    changes: int
    """Change notices (or polled events) applied: agents changed, environments moved."""
    resets: int
    """Times the whole cache was dropped after the feed was lost and found again."""
    listening: bool
    """Whether the cache is in use: the feed is being followed (or, on SQLite, polled)."""
    evictions: int = 0
    """Entries dropped: for a change, or to make room (``max_entries``)."""
    unfollowed_seconds: float = 0.0
    """How long the feed has been lost (0 while it is followed): every lookup meanwhile reads
    the database, and a worker that sees this grow knows it is not getting change notices."""


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


class _ThroughEnvironment(msgspec.Struct, Generic[T], frozen=True):
    """How :meth:`AgentCatalog._served` reads one kind of thing through an environment: the
    cache keys' kinds, the repository's reads (one release; every release served) and the
    cache entries of what one release pins."""

    kind: int
    served_kind: int
    release: Callable[[CatalogRepository, UUID, int, UUID], Awaitable[T]]
    served: Callable[[CatalogRepository, UUID, str, UUID], Awaitable[Served[T]]]
    entries: Callable[[UUID, int, UUID, T], list[Entry]]


def _definition_entries(
    organization_id: UUID, release: int, agent_id: UUID, definition: AgentDefinition
) -> list[Entry]:
    return [((_RELEASED, organization_id, release, agent_id), definition, ())]


def _graph_entries(
    organization_id: UUID, release: int, entry_id: UUID, graph: AgentGraph
) -> list[Entry]:
    """The graph, and its agents as :meth:`AgentCatalog.resolve` finds them."""
    return [
        ((_RELEASE_GRAPH, organization_id, release, entry_id), graph, ()),
        *(
            ((_RELEASED, organization_id, release, definition.id), definition, ())
            for definition in graph
        ),
    ]


_DEFINITIONS: Final = _ThroughEnvironment[AgentDefinition](
    _RELEASED,
    _SERVED,
    CatalogRepository.released,
    CatalogRepository.served_definitions,
    _definition_entries,
)
_GRAPHS: Final = _ThroughEnvironment[AgentGraph](
    _RELEASE_GRAPH,
    _SERVED_GRAPHS,
    CatalogRepository.release_graph,
    CatalogRepository.served_graphs,
    _graph_entries,
)


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

    async def graph(
        self,
        organization_id: UUID,
        entry_agent_id: UUID,
        *,
        environment: str | None = None,
        call_id: str | None = None,
    ) -> AgentGraph:
        """The entry agent and every agent reachable from it through handoffs, in one query.

        Without ``environment``: the working configuration (active agents as they are now).
        With it: the members of the release serving the call ``call_id`` through that
        environment (see :meth:`resolve`) reachable from the entry agent, at their pinned
        versions, with the graph's ``release``. :class:`~agents_core.errors.AgentNotFound` when
        the entry agent is not in that release,
        :class:`~agents_core.errors.EnvironmentNotFound` when there is no such environment.
        """
        if environment is not None:
            return await self._served(
                _GRAPHS, organization_id, environment, call_id, entry_agent_id
            )
        key = (_GRAPH, organization_id, entry_agent_id)
        cached = self._cache.cached(key)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]

        async def load(repository: CatalogRepository) -> tuple[AgentGraph, list[Entry]]:
            graph = await repository.graph(organization_id, entry_agent_id)
            return graph, [(key, graph, graph.agents.keys())]

        return await self._load(key, load)

    async def resolve(
        self,
        organization_id: UUID,
        agent_id: UUID,
        *,
        environment: str,
        call_id: str | None = None,
    ) -> AgentDefinition:
        """The agent as the environment serves it to the call ``call_id``: its configuration at
        the version pinned by the environment's release (or, for a call the canary rule sends
        there, by its canary release), with ``release`` and ``version`` set. Without
        ``call_id``, always the environment's release.

        :class:`~agents_core.errors.EnvironmentNotFound` when the organization has no such
        environment; :class:`~agents_core.errors.AgentNotFound` when the agent is not in the
        release serving the call.
        """
        return await self._served(_DEFINITIONS, organization_id, environment, call_id, agent_id)

    async def _served(
        self,
        read: _ThroughEnvironment[T],
        organization_id: UUID,
        environment: str,
        call_id: str | None,
        agent_id: UUID,
    ) -> T:
        """What ``read`` reads for ``agent_id`` in the release serving the call through
        ``environment``: from the cache when the environment's target and that release's entry
        are there; else one read of that release, or (the target unknown) one read of every
        release the environment serves, which caches both sides of a canary."""
        serving = self._cache.cached((_SERVING, organization_id, environment), counted=False)
        if serving is not MISSING:
            release = serving.release_for(environment, call_id)
            key = (read.kind, organization_id, release, agent_id)
            cached = self._cache.cached(key)
            if cached is not MISSING:
                return cached  # type: ignore[no-any-return]

            async def load(repository: CatalogRepository) -> tuple[T, list[Entry]]:
                value = await read.release(repository, organization_id, release, agent_id)
                return value, read.entries(organization_id, release, agent_id, value)

            return await self._load(key, load)

        async def load_served(repository: CatalogRepository) -> tuple[Served[T], list[Entry]]:
            served = await read.served(repository, organization_id, environment, agent_id)
            entries: list[Entry] = [
                (
                    (_SERVING, organization_id, environment),
                    served.serving,
                    (_environment(organization_id, environment),),
                )
            ]
            for release, value in served.by_release.items():
                entries.extend(read.entries(organization_id, release, agent_id, value))
            return served, entries

        served: Served[T] = await self._load(
            (read.served_kind, organization_id, environment, agent_id), load_served
        )
        release = served.serving.release_for(environment, call_id)
        value = served.by_release.get(release)
        if value is None:
            raise AgentNotFound(f"The agent is not in release {release}")
        return value

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

        async def load(repository: CatalogRepository) -> tuple[AgentDefinition, list[Entry]]:
            loaded = await repository.definition(organization_id, agent_id, version)
            return loaded.definition, [(key, loaded.definition, loaded.depends_on)]

        return await self._load(key, load)

    async def _load(
        self,
        key: Hashable,
        loader: Callable[[CatalogRepository], Awaitable[tuple[T, list[Entry]]]],
    ) -> T:
        async def read() -> tuple[T, list[Entry]]:
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
        return await self._follower.poll()

    @property
    def stats(self) -> CatalogStats:
        return CatalogStats(
            entries=len(self._cache),
            hits=self._cache.hits,
            misses=self._cache.misses,
            changes=self._changes,
            resets=self._resets,
            listening=self._cache.trusted,
            evictions=self._cache.evictions,
            unfollowed_seconds=self._cache.untrusted_for(),
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

    def moved(self, organization_id: UUID, environment: str, revision: int) -> None:
        self._changes += 1
        self._cache.evict(_environment(organization_id, environment))
        self._publish(
            CatalogChange(
                organization_id=organization_id,
                agent_id=None,
                version=revision,
                environment=environment,
            )
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
