"""The one way code above ``db/`` talks to the database: :class:`Connection`.

A connection is a lease on one pooled connection, taken on first use and given back by
:meth:`Connection.release` (or at the end of ``Database.connect()``'s block). It runs
:class:`~agents_core.db.query.Query` objects — on PostgreSQL as compiled SQL on the asyncpg
connection, on SQLite as the Core statement through SQLAlchemy — and raises domain errors only
(:mod:`agents_core.db.driver_errors`). Every wait is bounded by the database's timeout: taking a
pooled connection, a lock, a statement; a connection that timed out on the client side is
closed rather than reused, since the server may still be working on what it was sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from agents_core.db.driver_errors import domain_error, spoils_connection
from agents_core.db.query import Query


class Pool(Protocol):
    """Where leases take their connections from (:class:`~agents_core.db.Database`)."""

    @property
    def wait(self) -> float:
        """Seconds one statement may take, seen from our side."""

    async def _acquire_pg(self, lease: Any, within: float) -> Any: ...

    def _release_pg(self, lease: Any) -> None: ...

    async def _acquire_sa(self) -> AsyncConnection: ...


__all__ = ["Connection", "Row"]

Row = Sequence[Any]
"""A result row: its values in the order of the statement's columns."""

SQLITE_WRITES = "agents.writes"
"""Set in a SQLAlchemy connection's ``info`` before it begins a transaction that writes: the
engine's ``begin`` listener then takes SQLite's write lock at once (``create_engine``)."""

# Transaction-level locks, taken in the order given (callers sort, so that two writers never
# wait for each other in opposite orders): one round trip.
_LOCK = (
    "SELECT count(*) FROM (SELECT pg_advisory_xact_lock($1::integer, hashtext(k))"
    " FROM unnest($2::text[]) WITH ORDINALITY AS l(k, n) ORDER BY n) AS locked"
)


class Connection:
    """A lease on one pooled connection (see the module docstring).

    Not safe for concurrent use: one task at a time, like the connection it wraps.
    """

    __slots__ = ("_database", "_depth", "deadline")

    def __init__(self, database: Pool) -> None:
        self._database = database
        self._depth = 0
        self.deadline: float | None = None
        """A ``time.monotonic()`` instant by which every wait of this lease must end, when the
        caller already spent part of its time budget (see ``Database.timeout``)."""

    def _wait(self) -> float:
        """Seconds the next wait may take."""
        if self.deadline is None:
            return self._database.wait
        return max(0.001, min(self._database.wait, self.deadline - time.monotonic()))

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Row]:
        raise NotImplementedError

    async def fetchrow(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def execute(self, query: Query, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows."""
        raise NotImplementedError

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement once per parameter set (one round trip on asyncpg)."""
        raise NotImplementedError

    def transaction(self, *, snapshot: bool = False) -> Any:
        """``async with conn.transaction():`` — committed when the block ends normally, rolled
        back otherwise. Inside another transaction it is a savepoint: an error inside rolls back
        only the block's own statements, and the outer transaction stays usable.

        ``snapshot=True`` (outermost only): a read-only transaction whose statements all see
        the database as it was at the first one, for a read made of several statements
        (``REPEATABLE READ READ ONLY`` on PostgreSQL; a SQLite transaction already reads one
        snapshot)."""
        raise NotImplementedError

    async def lock(self, namespace: int, keys: Sequence[str]) -> None:
        """Hold a transaction-level lock on each of ``keys`` (in ``namespace``) until the
        transaction ends (the event feed's ordering locks). SQLite has one writer at a time,
        whose transaction holds the database's write lock already: there it does nothing.
        """

    async def release(self) -> None:
        """Give the pooled connection back (outside a transaction); the next statement takes
        one again. For a request that is about to wait on something else (a password hash)."""
        raise NotImplementedError


class PgConnection(Connection):
    """A lease on a pooled asyncpg connection (a :class:`~agents_core.db.pool.Lease`: the pool's
    watchdog closes ``raw`` when a statement is still running at ``until``)."""

    __slots__ = ("raw", "until")

    def __init__(self, database: Pool) -> None:
        super().__init__(database)
        self.raw: Any = None
        self.until: float | None = None

    async def _acquire(self) -> Any:
        raw = self.raw
        if raw is None:
            raw = await self._database._acquire_pg(self, self._wait())
        return raw

    def _failed(self, exc: BaseException) -> BaseException:
        error = domain_error(exc)
        if spoils_connection(exc):
            self._discard()
        return error

    def _discard(self) -> None:
        raw = self.raw
        if raw is not None and not raw.is_closed():
            raw.terminate()

    async def _driver(self, operation: str, sql: str, *args: Any) -> Any:
        """``operation`` (an asyncpg connection method) on the lease's connection, bounded by
        the time left (see ``until``), its failures turned into domain errors."""
        raw = self.raw or await self._acquire()
        wait = self._database.wait if self.deadline is None else self._wait()
        self.until = time.monotonic() + wait
        try:
            return await getattr(raw, operation)(sql, *args)
        except asyncio.CancelledError:
            self._discard()  # cut off mid-statement: its state is unknown
            raise
        except Exception as exc:
            raise self._failed(exc) from exc
        finally:
            self.until = None

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Row]:
        sql, order = query.pg()
        rows: Sequence[Row] = await self._driver("fetch", sql, *[params[n] for n in order])
        return rows

    async def fetchrow(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        sql, order = query.pg()
        row: Row | None = await self._driver("fetchrow", sql, *[params[n] for n in order])
        return row

    async def execute(self, query: Query, params: Mapping[str, Any]) -> None:
        sql, order = query.pg()
        await self._driver("execute", sql, *[params[n] for n in order])

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            sql, order = query.pg()
            await self._driver("executemany", sql, [[row[n] for n in order] for row in rows])

    async def _simple(self, sql: str) -> None:
        """A statement without parameters (transaction control), bounded like the others."""
        await self._driver("execute", sql)

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Connection]:
        depth = self._depth
        begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" if snapshot else "BEGIN"
        # Savepoint names are fixed per nesting level, never input.
        await self._simple(begin if depth == 0 else f"SAVEPOINT s{depth}")
        self._depth = depth + 1
        try:
            yield self
        except BaseException:
            self._depth = depth
            if self.raw is not None and not self.raw.is_closed():
                try:
                    await self._simple(
                        "ROLLBACK" if depth == 0 else f"ROLLBACK TO SAVEPOINT s{depth}"
                    )
                except Exception:
                    # The rollback itself failed (the server went away): close the connection,
                    # which ends the transaction on the server too.
                    self._discard()
            raise
        self._depth = depth
        await self._simple("COMMIT" if depth == 0 else f"RELEASE SAVEPOINT s{depth}")

    async def lock(self, namespace: int, keys: Sequence[str]) -> None:
        await self._driver("fetch", _LOCK, namespace, list(keys))

    async def release(self) -> None:
        self._depth = 0
        if self.raw is not None:
            self._database._release_pg(self)


class SaConnection(Connection):
    """A lease on a pooled SQLAlchemy connection (SQLite)."""

    __slots__ = ("_sa",)

    def __init__(self, database: Pool) -> None:
        super().__init__(database)
        self._sa: AsyncConnection | None = None

    async def _acquire(self) -> AsyncConnection:
        if self._sa is None:
            self._sa = await self._database._acquire_sa()
        return self._sa

    async def _run(self, query: Query, params: Any) -> Any:
        """Run a statement; outside a transaction it commits at once, as on PostgreSQL
        (SQLAlchemy would otherwise keep it in a transaction it began, rolled back at release)."""
        sa = self._sa or await self._acquire()
        try:
            result = await sa.execute(query.statement, params)
            rows = result.all() if result.returns_rows else None
            if self._depth == 0:
                await sa.commit()
            return rows
        except Exception as exc:
            if self._depth == 0 and sa.in_transaction():
                await sa.rollback()
            raise domain_error(exc) from exc

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Row]:
        rows: Sequence[Row] = await self._run(query, dict(params))
        return rows

    async def fetchrow(self, query: Query, params: Mapping[str, Any]) -> Row | None:
        rows: Sequence[Row] = await self._run(query, dict(params))
        return rows[0] if rows else None

    async def execute(self, query: Query, params: Mapping[str, Any]) -> None:
        await self._run(query, dict(params))

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            await self._run(query, [dict(row) for row in rows])

    @asynccontextmanager
    async def transaction(self, *, snapshot: bool = False) -> AsyncIterator[Connection]:
        sa = self._sa or await self._acquire()
        try:
            if not self._depth and not snapshot:
                sa.info[SQLITE_WRITES] = True  # BEGIN IMMEDIATE: see create_engine
            begin = sa.begin_nested() if self._depth else sa.begin()
            await begin.start()
        except Exception as exc:
            raise domain_error(exc) from exc
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            if begin.is_active:
                await begin.rollback()
            raise
        self._depth -= 1
        try:
            await begin.commit()
        except Exception as exc:
            raise domain_error(exc) from exc

    async def release(self) -> None:
        sa, self._sa = self._sa, None
        self._depth = 0
        if sa is not None:
            await sa.close()
