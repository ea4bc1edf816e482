"""Engines, sessions and the read path.

Writes go through the SQLAlchemy ORM (``Database.session``). Reads go through
:class:`ReadConnection`: on PostgreSQL a pooled asyncpg connection runs each query's SQL,
compiled once from its SQLAlchemy Core definition; elsewhere (SQLite) the same Core statement
runs through SQLAlchemy. Each query is therefore defined once and served at driver speed where
it matters.
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
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.sql import Executable
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["Database", "Query", "ReadConnection", "normalize_database_url"]

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
    """A read statement defined once with SQLAlchemy Core and compiled once for asyncpg.

    Parameters are named with :func:`sqlalchemy.bindparam`; ``run`` takes them by name.
    """

    __slots__ = ("_pg_order", "_pg_sql", "statement")

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._pg_sql: str | None = None
        self._pg_order: tuple[str, ...] = ()

    def pg(self) -> tuple[str, tuple[str, ...]]:
        """The PostgreSQL SQL and the order of its parameters (compiled on first use)."""
        if self._pg_sql is None:
            assert isinstance(self.statement, ClauseElement)
            compiled = self.statement.compile(dialect=_PG_DIALECT)
            self._pg_order = tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
            self._pg_sql = compiled.string
        return self._pg_sql, self._pg_order


class ReadConnection:
    """One connection for the reads of a request; runs :class:`Query` objects."""

    __slots__ = ("_database", "_pg", "_sa")

    def __init__(
        self, database: Database, *, pg: Any = None, sa: AsyncConnection | None = None
    ) -> None:
        self._database = database
        self._pg = pg
        self._sa = sa

    @property
    def is_postgres(self) -> bool:
        return self._pg is not None

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Sequence[Any]]:
        if self._pg is not None:
            self._database.statements += 1
            sql, order = query.pg()
            return await self._pg.fetch(sql, *[params[name] for name in order])  # type: ignore[no-any-return]
        assert self._sa is not None
        result = await self._sa.execute(query.statement, dict(params))
        return result.all()

    async def fetchrow(self, query: Query, params: Mapping[str, Any]) -> Sequence[Any] | None:
        rows = await self.fetch(query, params)
        return rows[0] if rows else None


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
    """Reset for read connections given back to the pool: nothing to do.

    asyncpg's default reset runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` — a round trip on every release, a tenth of the CPU of a one-agent read. The
    read path sets no session state, takes no locks and listens to nothing; the pool still rolls
    back a transaction left open and drops listeners before calling this.
    """


class Database:
    """The database of one deployment: an async engine, ORM sessions and the read path."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        max_overflow: int = 10,
        read_pool_size: int = 10,
        echo: bool = False,
    ) -> None:
        self.url = normalize_database_url(str(url) if isinstance(url, URL) else url)
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self._read_pool_size = read_pool_size
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

    def _count_statement(self, *_: Any) -> None:
        self.statements += 1

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def asyncpg_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def _read_pool(self) -> Any:
        if self._pg_pool is None:
            async with self._pool_lock:
                if self._pg_pool is None:
                    import asyncpg

                    self._pg_pool = await asyncpg.create_pool(
                        self.asyncpg_dsn(),
                        min_size=1,
                        max_size=self._read_pool_size,
                        init=_init_pg_connection,
                        # Statements are prepared once per connection and cached by asyncpg.
                        statement_cache_size=256,
                        reset=_keep_session,
                    )
        return self._pg_pool

    @asynccontextmanager
    async def read(self) -> AsyncIterator[ReadConnection]:
        """A connection for reads, returned to its pool on exit."""
        if self.is_postgres:
            pool = await self._read_pool()
            async with pool.acquire() as conn:
                yield ReadConnection(self, pg=conn)
        else:
            async with self.engine.connect() as conn:
                yield ReadConnection(self, sa=conn)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """An ORM session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> None:
        """Run ``SELECT 1``; raises when the database does not answer."""
        async with self.read() as conn:
            await conn.fetch(_PING, {})

    async def close(self) -> None:
        if self._pg_pool is not None:
            pool, self._pg_pool = self._pg_pool, None
            await pool.close()
        await self.engine.dispose()


_PING = Query(select(literal_column("1")))
