"""The database of one deployment: its URL, its one connection pool, its timeout.

On PostgreSQL the pool is asyncpg's: statements are compiled once by SQLAlchemy and run on the
driver (:class:`~agents_core.db.connection.PgConnection`). On SQLite it is SQLAlchemy's engine
over aiosqlite (:class:`~agents_core.db.connection.SaConnection`). Either way one pool per
process, sized by ``pool_size``, and no wait longer than ``timeout`` seconds: for a pooled
connection, a lock (PostgreSQL ``lock_timeout``, SQLite ``busy_timeout``) or a statement
(``statement_timeout``, and on our side the same plus a moment, for a server that stopped
answering altogether).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from sqlalchemy import event, literal_column, select
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from agents_core.db.connection import (
    SQLITE_WRITES,
    Connection,
    PgConnection,
    SaConnection,
)
from agents_core.db.driver_errors import domain_error
from agents_core.db.notifications import Listening
from agents_core.db.pool import DriverPool, Lease
from agents_core.db.query import Query

__all__ = [
    "DEFAULT_TIMEOUT",
    "Connection",
    "Database",
    "PoolStatus",
    "Query",
    "create_engine",
    "normalize_database_url",
]

DEFAULT_TIMEOUT = 5.0
"""Seconds any one wait on the database may take (``AGENTS_DB_TIMEOUT``)."""

CLIENT_MARGIN = 0.25
"""Seconds our side waits beyond the server's own timeouts before it gives up on a statement:
the server's ``statement_timeout`` answers first when the server is alive (and the connection
stays usable); ours only fires when it is not answering at all."""


def normalize_database_url(url: str | URL) -> URL:
    """Turn a user-supplied database URL into one with an async driver.

    ``postgres://``, ``postgresql://`` and ``postgresql+asyncpg://`` all mean asyncpg;
    ``sqlite:///path`` means aiosqlite. Anything else is refused with a clear message.
    """
    try:
        # ``str()`` of a URL hides its password: parse the URL object itself.
        parsed = url if isinstance(url, URL) else make_url(url)
    except Exception as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    backend = parsed.get_backend_name()
    if backend in {"postgres", "postgresql"}:
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use postgresql://… or sqlite:///…")


def _json_text(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def create_engine(
    url: str | URL, *, timeout: float = DEFAULT_TIMEOUT, **options: Any
) -> AsyncEngine:
    """A SQLAlchemy engine on ``url`` set up as the project needs it (SQLite pragmas, msgspec
    for JSON). The serving process uses one only on SQLite; migrations use one on either."""
    url = normalize_database_url(url)
    if url.get_backend_name() == "postgresql":
        return create_async_engine(
            url, json_serializer=_json_text, json_deserializer=msgspec.json.decode, **options
        )
    database = url.database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, **options)
    busy_ms = int(timeout * 1000)

    def pragmas(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling begins transactions late and by statement
        # kind, which breaks savepoints (a first SAVEPOINT would begin, and its RELEASE commit,
        # the whole transaction): SQLAlchemy begins them itself (``begin`` below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        # A writer waits at most this long for another's lock, then fails (503).
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()

    def begin(conn: Any) -> None:
        # A transaction that will write takes the write lock at once (waiting up to
        # busy_timeout for it): a deferred one would read first and then fail at once, without
        # waiting, when another writer committed meanwhile. Lone statements begin deferred.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop(SQLITE_WRITES, False) else "BEGIN")

    event.listen(engine.sync_engine, "connect", pragmas)
    event.listen(engine.sync_engine, "begin", begin)
    return engine


async def _init_pg_connection(conn: Any) -> None:
    await conn.set_type_codec(
        "jsonb", encoder=_json_text, decoder=msgspec.json.decode, schema="pg_catalog"
    )


class PoolStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The pool at one moment: connections open, lent out, and requests waiting for one."""

    size: int
    in_use: int
    waiting: int


class Database:
    """One deployment's database: ``connect()`` lends a :class:`Connection` from its pool."""

    def __init__(
        self,
        url: str | URL,
        *,
        pool_size: int = 10,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.url = normalize_database_url(url)
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        self.pool_size = pool_size
        self.timeout = timeout
        self.wait = timeout + CLIENT_MARGIN
        """Seconds a statement may take as seen from our side (see :data:`CLIENT_MARGIN`)."""
        self._pool: DriverPool | None = None
        self._sa_engine: AsyncEngine | None = None
        self._waiting = 0
        """Requests waiting for a connection (SQLite; PostgreSQL's pool counts its own)."""
        self._connection_type: type[Connection] = PgConnection if self.is_postgres else SaConnection

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def has_notifications(self) -> bool:
        """Whether :meth:`listen` works (PostgreSQL); otherwise changes are polled for."""
        return self.is_postgres

    async def listen(
        self, channel: str, on_notice: Callable[[str], None], on_lost: Callable[[], None]
    ) -> Listening:
        """A connection of its own LISTENing on ``channel`` (PostgreSQL only)."""
        if not self.is_postgres:
            raise RuntimeError(f"{self.dialect} has no notifications: poll instead")
        return await Listening.open(
            self.asyncpg_dsn(), channel, on_notice, on_lost, connect_within=self.timeout
        )

    def asyncpg_dsn(self) -> str:
        return self.url.set(drivername="postgresql").render_as_string(hide_password=False)

    # -- leases -------------------------------------------------------------------------------

    def connection(self) -> Connection:
        """A lease that takes a pooled connection on first use; the caller releases it."""
        return self._connection_type(self)

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[Connection]:
        """A lease, released when the block ends."""
        conn = self._connection_type(self)
        try:
            yield conn
        finally:
            await conn.release()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A lease in a transaction: committed on success, rolled back on error."""
        async with self.connect() as conn, conn.transaction():
            yield conn

    async def ping(self, within: float | None = None) -> None:
        """``SELECT 1`` within ``within`` seconds (default: the database's own timeout);
        raises :class:`~agents_core.errors.DatabaseUnavailable` otherwise."""
        seconds = within or self.wait
        try:
            async with asyncio.timeout(seconds), self.connect() as conn:
                conn.deadline = time.monotonic() + seconds
                await conn.fetch(_PING, {})
        except Exception as exc:
            raise domain_error(exc) from exc

    def pool_status(self) -> PoolStatus:
        if self.is_postgres:
            pool = self._pool
            if pool is None:
                return PoolStatus(size=0, in_use=0, waiting=0)
            opened = pool.opened
            return PoolStatus(size=opened, in_use=opened - pool.idle, waiting=pool.waiting)
        engine = self._sa_engine
        if engine is None:
            return PoolStatus(size=0, in_use=0, waiting=self._waiting)
        sa_pool = engine.sync_engine.pool
        in_use = int(getattr(sa_pool, "checkedout", lambda: 0)())
        size = in_use + int(getattr(sa_pool, "checkedin", lambda: 0)())
        return PoolStatus(size=size, in_use=in_use, waiting=self._waiting)

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close(self.timeout)
        if self._sa_engine is not None:
            engine, self._sa_engine = self._sa_engine, None
            await engine.dispose()

    # -- the pools (for db/ only) --------------------------------------------------------------

    def _pg_pool(self) -> DriverPool:
        if self._pool is None:
            self._pool = DriverPool(self._pg_connect, self.pool_size)
        return self._pool

    async def _pg_connect(self, within: float) -> Any:
        """A new asyncpg connection, set up, within ``within`` seconds (and the timeout)."""
        import asyncpg

        milliseconds = str(int(self.timeout * 1000))
        raw: Any = None
        try:
            async with asyncio.timeout(min(within, self.timeout)):
                raw = await asyncpg.connect(
                    self.asyncpg_dsn(),
                    # Statements are prepared once per connection and cached by asyncpg.
                    statement_cache_size=256,
                    server_settings={
                        "lock_timeout": milliseconds,
                        "statement_timeout": milliseconds,
                    },
                )
                await _init_pg_connection(raw)
        except BaseException:
            if raw is not None:
                raw.terminate()
            raise
        return raw

    async def _acquire_pg(self, lease: Lease, within: float) -> Any:
        try:
            pool = self._pool or self._pg_pool()
            return await pool.acquire(lease, within)
        except Exception as exc:
            raise domain_error(exc) from exc

    def _release_pg(self, lease: Lease) -> None:
        if self._pool is not None:
            self._pool.release(lease)
        elif lease.raw is not None:
            raw, lease.raw = lease.raw, None
            raw.terminate()

    async def _acquire_sa(self) -> AsyncConnection:
        self._waiting += 1
        try:
            return await self.sqlalchemy_engine().connect()
        except Exception as exc:
            raise domain_error(exc) from exc
        finally:
            self._waiting -= 1

    def sqlalchemy_engine(self) -> AsyncEngine:
        """The SQLAlchemy engine whose pool serves SQLite (made on first use). PostgreSQL's
        pool is asyncpg's own: there is no engine there."""
        if self.is_postgres:
            raise RuntimeError("a PostgreSQL database is served by asyncpg's pool, not an engine")
        if self._sa_engine is None:
            options: dict[str, Any] = {}
            if self.url.database not in (None, "", ":memory:"):
                options = {
                    "pool_size": self.pool_size,
                    "max_overflow": 0,
                    "pool_timeout": self.timeout,
                }
            self._sa_engine = create_engine(self.url, timeout=self.timeout, **options)
        return self._sa_engine


_PING = Query(select(literal_column("1")))
