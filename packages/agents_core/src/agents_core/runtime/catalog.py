"""The agent catalog a voice-agent worker embeds: definitions and handoff graphs, cached, kept
fresh by the change feed.

Freshness guarantee (PostgreSQL). Every write records its events in its own transaction and
``pg_notify``s them; PostgreSQL delivers a notice only after the transaction has committed and is
visible to new snapshots. The catalog LISTENs on a connection of its own and evicts on each
notice. So: **a read that starts after the catalog has received the notice of a change never
returns data older than that change.** Reads that started before the notice may still return
what they read; they can never leave it in the cache (see :mod:`agents_core.runtime.cache`).

When the listening connection is lost the catalog stops trusting its cache at once (every read
goes to the database) and reconnects; once LISTEN is active again it drops the whole cache and
tells subscribers to reload (a "reset" change), so no entry survives a notice it may have missed.
A loss the client cannot see (a silent network failure) is found by a health check every
``health_check_interval`` seconds; until then, as with any cache, a notice that never arrives
cannot be acted on.

SQLite has no notifications: the catalog polls the events table every ``poll_interval`` seconds
(ids there are in commit order, since SQLite has one writer at a time), and the guarantee becomes
"a read that starts after the poll that saw the change".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Self, TypeVar
from uuid import UUID

import asyncpg
import msgspec
from sqlalchemy import BigInteger, bindparam, func, select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from agents_core.db.database import Connection, Database, Query
from agents_core.db.models import AgentEventRow
from agents_core.errors import VersionNotFound
from agents_core.events.recorder import NOTIFY_CHANNEL
from agents_core.runtime.cache import MISSING, DependencyCache
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, CatalogChange
from agents_core.runtime.queries import load_definition, load_graph

__all__ = ["AgentCatalog", "CatalogStats", "ChangeStream"]

logger = logging.getLogger("agents_core.runtime")

T = TypeVar("T")

_DEFINITION = 0
_GRAPH = 1
_VERSION = 2

_POLL_BATCH = 1000
_EVENTS_AFTER = Query(
    select(
        AgentEventRow.id,
        AgentEventRow.organization_id,
        AgentEventRow.agent_id,
        AgentEventRow.version,
    )
    .where(AgentEventRow.id > bindparam("after", type_=BigInteger()))
    .order_by(AgentEventRow.id)
    .limit(_POLL_BATCH)
)
_SYNC = Query(select(func.pg_notify(bindparam("channel"), bindparam("payload"))))
_SYNC_PREFIX = "sync:"
_LAST_EVENT = Query(select(func.coalesce(func.max(AgentEventRow.id), 0)))


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

CatalogSource = str | URL | Database | AsyncEngine


class AgentCatalog:
    """Agent definitions and handoff graphs for a worker, from the database, cached.

    Open it with ``async with AgentCatalog.open(url_or_database_or_engine) as catalog:``.
    """

    def __init__(
        self,
        database: Database,
        *,
        owns_database: bool = False,
        engine: AsyncEngine | None = None,
        max_entries: int = 1024,
        poll_interval: float = 1.0,
        health_check_interval: float = 5.0,
        reconnect_delay: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self._database = database
        self._owns_database = owns_database
        self._engine = engine if engine is not None and not database.is_postgres else None
        self._cache = DependencyCache(max_entries)
        self._poll_interval = poll_interval
        self._health_check_interval = health_check_interval
        self._reconnect_delay = reconnect_delay
        self._trusted = False
        self._flights: dict[Hashable, tuple[int, asyncio.Future[Any]]] = {}
        self._streams: set[ChangeStream] = set()
        self._task: asyncio.Task[None] | None = None
        self._listener_pid: int | None = None
        self._last_event_id = 0
        self._sync_waiters: dict[str, asyncio.Future[None]] = {}
        self._hits = 0
        self._misses = 0
        self._changes = 0
        self._resets = 0

    # -- opening and closing ----------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(cls, source: CatalogSource, **options: Any) -> AsyncIterator[AgentCatalog]:
        """A started catalog on a database URL, a :class:`Database` (shared, not closed) or an
        async engine; closed on exit. ``options`` are the constructor's keyword arguments."""
        if isinstance(source, Database):
            catalog = cls(source, **options)
        elif isinstance(source, AsyncEngine):
            url = source.url.render_as_string(hide_password=False)
            catalog = cls(Database(url), owns_database=True, engine=source, **options)
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
        if self._task is not None:
            return
        if self._database.is_postgres:
            connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._task = asyncio.create_task(self._listen(connected), name="agent-catalog-listen")
            await connected
        else:
            async with self._read() as conn:
                row = await conn.fetchrow(_LAST_EVENT, {})
            self._last_event_id = int(row[0]) if row else 0
            self._trusted = True
            self._task = asyncio.create_task(self._poll(), name="agent-catalog-poll")

    async def close(self) -> None:
        self._trusted = False
        self._cache.clear()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
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
        cached = self._cached(key)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]

        async def load(conn: Connection) -> tuple[AgentGraph, frozenset[UUID]]:
            graph = await load_graph(conn, organization_id, entry_agent_id)
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

    def _cached(self, key: Hashable) -> Any:
        """The cached value for ``key``, or ``MISSING`` (always while the cache is not trusted)."""
        if not self._trusted:
            return MISSING
        value = self._cache.get(key)
        if value is not MISSING:
            self._hits += 1
        return value

    async def _definition(
        self, organization_id: UUID, agent_id: UUID, version: int | None
    ) -> AgentDefinition:
        """The live definition (``version`` None) or the one saved at ``version``, cached."""
        key = (
            (_DEFINITION, organization_id, agent_id)
            if version is None
            else (_VERSION, organization_id, agent_id, version)
        )
        cached = self._cached(key)
        if cached is not MISSING:
            return cached  # type: ignore[no-any-return]

        async def load(conn: Connection) -> tuple[AgentDefinition, frozenset[UUID]]:
            loaded = await load_definition(conn, organization_id, agent_id, version)
            return loaded.definition, loaded.depends_on

        return await self._load(key, load)

    async def _load(
        self,
        key: Hashable,
        loader: Callable[[Connection], Awaitable[tuple[T, frozenset[UUID]]]],
    ) -> T:
        """Load through the database, once for all concurrent callers of the same generation."""
        self._misses += 1
        generation = self._cache.generation
        flight = self._flights.get(key)
        if flight is not None and flight[0] == generation:
            return await asyncio.shield(flight[1])
        task = asyncio.ensure_future(self._fetch(key, loader, generation))
        self._flights[key] = (generation, task)
        task.add_done_callback(lambda done: self._land(key, done))
        return await asyncio.shield(task)

    async def _fetch(
        self,
        key: Hashable,
        loader: Callable[[Connection], Awaitable[tuple[T, frozenset[UUID]]]],
        generation: int,
    ) -> T:
        async with self._read() as conn:
            value, depends_on = await loader(conn)
        if self._trusted:
            # Refused when anything was evicted since ``generation``: the value may be older.
            self._cache.put(key, value, depends_on, generation)
        return value

    def _land(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        flight = self._flights.get(key)
        if flight is not None and flight[1] is task:
            del self._flights[key]
        if not task.cancelled():
            task.exception()  # retrieved here even if every caller went away

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[Connection]:
        if self._engine is None:
            async with self._database.connect() as conn:
                yield conn
        else:
            async with self._engine.connect() as sa_conn:
                yield Connection(self._database, sa=sa_conn)

    # -- following changes ------------------------------------------------------------------------

    def changes(self, max_pending: int = 1000) -> ChangeStream:
        """A stream of the changes this catalog applies from now on."""
        stream = ChangeStream(self, max_pending)
        self._streams.add(stream)
        return stream

    async def sync(self) -> None:
        """Return once every change committed before this call has been applied.

        On PostgreSQL this sends a marker notice and waits for it: notices arrive in commit
        order, so every earlier change's notice has been applied when it comes back. On SQLite
        it polls. Useful after a worker's own write, and in tests.
        """
        if not self._database.is_postgres:
            await self.poll()
            return
        if not self._trusted:
            return  # nothing is served from the cache until the feed is back
        token = secrets.token_hex(8)
        arrived = asyncio.get_running_loop().create_future()
        self._sync_waiters[token] = arrived
        try:
            async with self._read() as conn:
                await conn.fetch(
                    _SYNC, {"channel": NOTIFY_CHANNEL, "payload": _SYNC_PREFIX + token}
                )
            await arrived
        finally:
            self._sync_waiters.pop(token, None)

    @property
    def stats(self) -> CatalogStats:
        return CatalogStats(
            entries=len(self._cache),
            hits=self._hits,
            misses=self._misses,
            changes=self._changes,
            resets=self._resets,
            listening=self._trusted,
        )

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the LISTEN connection (PostgreSQL), if connected."""
        return self._listener_pid

    def _apply(self, organization_id: UUID, agent_id: UUID, version: int) -> None:
        self._changes += 1
        self._cache.evict_agent(agent_id)
        self._publish(
            CatalogChange(organization_id=organization_id, agent_id=agent_id, version=version)
        )

    def _publish(self, change: CatalogChange) -> None:
        for stream in self._streams:
            stream._push(change)

    def _distrust(self) -> None:
        """The feed may have been lost: serve nothing from the cache until it is back."""
        if self._trusted:
            self._trusted = False
            self._cache.clear()
        # With the cache out of use, whoever waits for a sync is in sync.
        for waiter in self._sync_waiters.values():
            if not waiter.done():
                waiter.set_result(None)

    def _resume(self, *, first: bool) -> None:
        """The feed is followed again: whatever was missed meanwhile, start from scratch."""
        self._cache.clear()
        self._trusted = True
        if not first:
            self._resets += 1
            self._publish(_RESET)

    def _on_notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.startswith(_SYNC_PREFIX):
            waiter = self._sync_waiters.get(payload[len(_SYNC_PREFIX) :])
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        try:
            organization, agent, version = payload.split(":")
            self._apply(UUID(organization), UUID(agent), int(version))
        except ValueError:
            logger.warning("unreadable agent event notice %r: dropping the cache", payload)
            self._cache.clear()
            self._publish(_RESET)

    async def _listen(self, connected: asyncio.Future[None]) -> None:
        delay = self._reconnect_delay[0]
        while True:
            conn: Any = None
            try:
                conn = await asyncpg.connect(self._database.asyncpg_dsn(), timeout=10)
                lost = asyncio.Event()

                def on_lost(_conn: Any, lost: asyncio.Event = lost) -> None:
                    self._distrust()
                    lost.set()

                conn.add_termination_listener(on_lost)
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notice)
                # LISTEN is active: every commit from now on reaches us.
                self._listener_pid = conn.get_server_pid()
                self._resume(first=not connected.done())
                if not connected.done():
                    connected.set_result(None)
                delay = self._reconnect_delay[0]
                await self._watch(conn, lost)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not connected.done():
                    connected.set_exception(exc)
                    return
                logger.warning("agent catalog lost its change feed: %s; reconnecting", exc)
            finally:
                self._distrust()
                self._listener_pid = None
                if conn is not None and not conn.is_closed():
                    conn.terminate()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_delay[1])

    async def _watch(self, conn: Any, lost: asyncio.Event) -> None:
        """Return when the connection is lost, or stops answering a health check."""
        while not lost.is_set():
            try:
                async with asyncio.timeout(self._health_check_interval):
                    await lost.wait()
                return
            except TimeoutError:
                pass
            try:
                async with asyncio.timeout(self._health_check_interval):
                    await conn.fetchval("SELECT 1")
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                logger.warning("agent catalog health check failed: %s", exc)
                return

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("agent catalog could not poll the events table: %s", exc)
                self._distrust()

    async def poll(self) -> int:
        """Apply the events recorded since the last poll (SQLite); returns how many."""
        applied = 0
        while True:
            async with self._read() as conn:
                rows = await conn.fetch(_EVENTS_AFTER, {"after": self._last_event_id})
            if not self._trusted:
                self._resume(first=False)
            for event_id, organization_id, agent_id, version in rows:
                self._apply(organization_id, agent_id, version)
                self._last_event_id = event_id
            applied += len(rows)
            if len(rows) < _POLL_BATCH:
                return applied
