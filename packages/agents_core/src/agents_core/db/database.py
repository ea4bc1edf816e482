"""Engines, sessions and the driver path.

Every statement is defined once with SQLAlchemy Core. The hot paths (the reads, authentication,
and the versioned writes to agents) run them on a :class:`Connection`: on PostgreSQL a pooled
asyncpg connection runs each statement's SQL, compiled once; elsewhere (SQLite) the same Core
statement runs through SQLAlchemy. The rest of the writes (sign-up, API keys, import) go through
the ORM (``Database.session``). Each statement is therefore defined once and served at driver
speed where it matters.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event, literal_column, select
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["Connection", "Database", "PoolStatus", "Query", "normalize_database_url", "violates"]

_PG_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
_PG_DIALECT.paramstyle = "numeric_dollar"


def normalize_database_url(url: str) -> URL:
    """Turn a user-supplied database URL into one with an async driver.

    ``postgres://``, ``postgresql://`` and ``postgresql+asyncpg://`` all mean asyncpg;
    ``sqlite:///path`` means aiosqlite. Anything else is refused with a clear message.
    """
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use postgresql://… or sqlite:///…")


class Query:
    """A statement defined once with SQLAlchemy Core and compiled once for asyncpg.

    Parameters are named with :func:`sqlalchemy.bindparam`; the connection takes them by name.
    ``pg`` is the statement's PostgreSQL form where the two must differ (an array parameter where
    SQLite needs an expanding ``IN``): same parameters, same result columns.
    """

    __slots__ = ("_pg_order", "_pg_sql", "_pg_statement", "statement")

    def __init__(self, statement: Executable, *, pg: Executable | None = None) -> None:
        self.statement = statement
        self._pg_statement = statement if pg is None else pg
        self._pg_sql: str | None = None
        self._pg_order: tuple[str, ...] = ()

    def pg(self) -> tuple[str, tuple[str, ...]]:
        """The PostgreSQL SQL and the order of its parameters (compiled on first use)."""
        if self._pg_sql is None:
            assert isinstance(self._pg_statement, ClauseElement)
            compiled = self._pg_statement.compile(dialect=_PG_DIALECT)
            assert isinstance(compiled, SQLCompiler)
            order = tuple(compiled.positiontup or ())
            fixed = [name for name in order if not compiled.binds[name].required]
            if fixed:
                # A Python value in a statement (``values(flag=True)``) becomes a parameter the
                # caller does not name; say so at first use rather than fail on a missing key.
                raise ValueError(
                    f"statement has parameters with fixed values {fixed}: write them as SQL "
                    "(literal_column) or as named bindparams"
                )
            self._pg_order = order
            self._pg_sql = compiled.string
        return self._pg_sql, self._pg_order

    def statement_for(self, dialect: str) -> Executable:
        """The statement to run through SQLAlchemy on ``dialect``."""
        return self._pg_statement if dialect == "postgresql" else self.statement


class Connection:
    """One database connection: runs :class:`Query` objects, reads and writes.

    On PostgreSQL it wraps a pooled asyncpg connection and runs each query's compiled SQL;
    otherwise it wraps a SQLAlchemy connection (or session) and runs the Core statement. Code
    written against it runs unchanged on both.
    """

    __slots__ = ("_database", "_depth", "_pg", "_sa", "dialect")

    def __init__(
        self,
        database: Database | None,
        *,
        pg: Any = None,
        sa: AsyncConnection | AsyncSession | None = None,
    ) -> None:
        self._database = database
        self._pg = pg
        self._sa = sa
        self._depth = 0
        if isinstance(sa, AsyncConnection):
            self.dialect = sa.dialect.name
        elif sa is not None:
            self.dialect = sa.get_bind().dialect.name
        else:
            self.dialect = "postgresql"

    @classmethod
    def of_session(cls, session: AsyncSession) -> Connection:
        """Statements run in the session's transaction (for writers that also use the ORM)."""
        return cls(None, sa=session)

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    def _count(self) -> None:
        if self._database is not None:
            self._database.statements += 1

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        if self._pg is not None:
            self._count()
            sql, order = query.pg()
            return await self._pg.fetch(sql, *[params[name] for name in order])  # type: ignore[no-any-return]
        assert self._sa is not None
        result = await self._sa.execute(query.statement_for(self.dialect), dict(params))
        return result.all()

    async def fetchrow(self, query: Query, params: Mapping[str, Any]) -> Sequence[Any] | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None

    async def execute(self, query: Query, params: Mapping[str, Any]) -> None:
        """Run a statement that returns no rows."""
        if self._pg is not None:
            self._count()
            sql, order = query.pg()
            await self._pg.execute(sql, *[params[name] for name in order])
            return
        assert self._sa is not None
        await self._sa.execute(query.statement_for(self.dialect), dict(params))

    async def execute_many(self, query: Query, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run a statement once per parameter set (one round trip on asyncpg)."""
        if not rows:
            return
        if self._pg is not None:
            self._count()
            sql, order = query.pg()
            await self._pg.executemany(sql, [[row[name] for name in order] for row in rows])
            return
        assert self._sa is not None
        await self._sa.execute(query.statement_for(self.dialect), [dict(row) for row in rows])

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction, committed when the block ends normally and rolled back otherwise.

        Inside another transaction it is a savepoint: an error inside rolls back only the
        block's own statements, and the outer transaction stays usable.
        """
        if self._pg is not None:
            async with self._pg.transaction():
                yield self
            return
        sa = self._sa
        assert sa is not None
        if isinstance(sa, AsyncConnection) and self._depth == 0 and sa.in_transaction():
            # SQLAlchemy began a transaction for the reads before this one (asyncpg runs them
            # outside any): they wrote nothing, so end it and give the writes their own.
            await sa.rollback()
        begin = sa.begin_nested if sa.in_transaction() else sa.begin
        self._depth += 1
        try:
            async with begin():
                yield self
        finally:
            self._depth -= 1


def violates(exc: BaseException, constraint: str) -> bool:
    """Whether an error is a violation of the named constraint or unique index, from either
    path: asyncpg names it (``constraint_name``), SQLAlchemy's ``IntegrityError`` (SQLite or
    PostgreSQL) carries the driver's message, which names it."""
    if isinstance(exc, IntegrityError):
        return constraint in str(exc.orig)
    return getattr(exc, "constraint_name", None) == constraint


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def _init_pg_connection(conn: Any) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=_json_text,
        decoder=msgspec.json.decode,
        schema="pg_catalog",
    )


async def _keep_session(_conn: Any) -> None:
    """Reset for driver connections given back to the pool: nothing to do.

    asyncpg's default reset runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` — a round trip on every release, a tenth of the CPU of a one-agent read. The
    driver path sets no session state, takes only transaction-level locks (gone at commit or
    rollback) and listens to nothing; the pool still rolls back a transaction left open and drops
    listeners before calling this.
    """


class Database:
    """The database of one deployment: an async engine, ORM sessions and the driver path."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        driver_pool_size: int = 10,
        echo: bool = False,
    ) -> None:
        self.url = normalize_database_url(str(url) if isinstance(url, URL) else url)
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self._driver_pool_size = driver_pool_size
        if self.is_postgres:
            self.engine: AsyncEngine = create_async_engine(
                self.url,
                pool_size=pool_size,
                max_overflow=max_overflow,
                pool_pre_ping=True,
                echo=echo,
                # Version snapshots hold whole instructions (up to 100 KB): msgspec, not json.
                json_serializer=_json_text,
                json_deserializer=msgspec.json.decode,
            )
        else:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = create_async_engine(self.url, echo=echo)
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self.statements = 0
        """SQL statements run so far, through either path (tests hold the hot paths to it)."""
        event.listen(self.engine.sync_engine, "before_cursor_execute", self._count_statement)
        self._pg_pool: Any = None
        self._pool_lock = asyncio.Lock()
        self._waiting = 0

    def _count_statement(self, *_: Any) -> None:
        self.statements += 1

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def asyncpg_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _driver_pool(self) -> Any:
        if self._pg_pool is None:
            async with self._pool_lock:
                if self._pg_pool is None:
                    import asyncpg

                    self._pg_pool = await asyncpg.create_pool(
                        self.asyncpg_dsn(),
                        min_size=1,
                        max_size=self._driver_pool_size,
                        init=_init_pg_connection,
                        # Statements are prepared once per connection and cached by asyncpg.
                        statement_cache_size=256,
                        reset=_keep_session,
                    )
        return self._pg_pool

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        """A pooled connection, outside any transaction; returned to its pool on exit."""
        if self.is_postgres:
            pool = await self._driver_pool()
            self._waiting += 1
            try:
                conn = await pool.acquire()
            finally:
                self._waiting -= 1
            try:
                yield Connection(self, pg=conn)
            finally:
                await pool.release(conn)
        else:
            async with self.engine.connect() as conn:
                yield Connection(self, sa=conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A pooled connection in a transaction: committed on success, rolled back on error."""
        async with self.connect() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises when the database does not answer."""
        async with self.connect() as conn:
            await conn.fetch(_PING, {})

    async def close(self) -> None:
        if self._pg_pool is not None:
            pool, self._pg_pool = self._pg_pool, None
            await pool.close()
        await self.engine.dispose()

    def pool_status(self) -> PoolStatus:
        """The serving pool's connections now: open, checked out, and requests waiting for one.

        PostgreSQL: the driver pool (waiters counted in :meth:`connect`). SQLite: SQLAlchemy's
        pool, whose waiters are not counted.
        """
        if self.is_postgres:
            pool = self._pg_pool
            if pool is None:
                return PoolStatus(size=0, in_use=0, waiting=self._waiting)
            size = pool.get_size()
            return PoolStatus(size=size, in_use=size - pool.get_idle_size(), waiting=self._waiting)
        sa_pool: Any = self.engine.pool
        in_use = int(sa_pool.checkedout()) if hasattr(sa_pool, "checkedout") else 0
        idle = int(sa_pool.checkedin()) if hasattr(sa_pool, "checkedin") else 0
        return PoolStatus(size=in_use + idle, in_use=in_use, waiting=0)


class PoolStatus(msgspec.Struct, frozen=True, kw_only=True):
    """A connection pool's state at one moment (see :meth:`Database.pool_status`)."""

    size: int
    in_use: int
    waiting: int


_PING = Query(select(literal_column("1")))
