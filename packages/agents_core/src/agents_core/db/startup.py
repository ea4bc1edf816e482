"""Start-up checks: a database that cannot be used, said in one line an operator can act on.

A process that is about to serve, migrate or seed connects once first. When the connection
fails, the driver's error (a refused connection, an unknown host, a missing database or role, a
wrong password …) becomes :class:`DatabaseStartupError`, whose message is one line naming the
setting the URL came from (password hidden) and what to do. The caller prints it and exits.
"""

from __future__ import annotations

import errno
import getpass
import socket
import sqlite3
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from agents_core.db.database import Database, create_engine

__all__ = [
    "DatabaseStartupError",
    "check",
    "check_schema",
    "explain",
    "hide_password",
    "new_sqlite_file",
]

CONNECT_TIMEOUT = 10.0
"""Seconds a start-up connection may take (asyncpg's own default is 60)."""


class DatabaseStartupError(Exception):
    """The database cannot be used; ``str()`` is one line for the operator."""


def hide_password(url: str | URL) -> str:
    """The URL as the user wrote it, with its password (if any) as ``***``."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except Exception:  # not a URL: nothing in it can be told apart from a password
        return "(not a valid URL)"
    return parsed.render_as_string(hide_password=True)


def new_sqlite_file(url: str | URL) -> Path | None:
    """The SQLite file that connecting to ``url`` will create, or ``None`` (it exists, it is in
    memory, or the database is not SQLite)."""
    parsed = url if isinstance(url, URL) else make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        return None
    path = Path(parsed.database)
    return None if path.exists() else path.resolve()


async def check(url: str | URL, *, setting: str, connect_timeout: float = CONNECT_TIMEOUT) -> None:
    """Connect once to the database at ``url``; raise :class:`DatabaseStartupError` when that
    fails. ``setting`` names where the URL came from (``AGENTS_DATABASE_URL``) for the message.
    """
    database: Database | None = None
    try:
        database = Database(url)  # on SQLite, this creates the file's folder
        if database.is_postgres:
            import asyncpg

            # One plain connection, bounded in time: a pool would retry and log each failure.
            conn = await asyncpg.connect(database.asyncpg_dsn(), timeout=connect_timeout)
            await conn.close()
        else:
            await database.ping()
    except Exception as exc:
        line = explain(exc, url, setting=setting, timeout=connect_timeout)
        if line is None:
            raise
        raise DatabaseStartupError(line) from exc
    finally:
        if database is not None:
            await database.close()


async def check_schema(
    database: Database, *, setting: str, configured_url: str | None = None
) -> None:
    """Raise :class:`DatabaseStartupError` when the database was never migrated (no tables).

    For processes that read the schema but do not create it (a worker embedding the catalog).
    """
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            migrated = await conn.run_sync(
                lambda sync_conn: inspect(sync_conn).has_table("alembic_version")
            )
    finally:
        await engine.dispose()
    if not migrated:
        shown = hide_password(configured_url or database.url)
        raise DatabaseStartupError(
            f"The database has no tables yet: run `agents database upgrade` (or `agents seed`) "
            f"first. Check {setting}={shown}"
        )


def explain(
    exc: BaseException, url: str | URL, *, setting: str, timeout: float = CONNECT_TIMEOUT
) -> str | None:
    """One line for a failure to connect to the database at ``url``, or ``None`` when ``exc``
    is not one (it is then some other error, to be reported as such).

    SQLAlchemy wraps the driver's errors and the project's own layers may chain them: the
    cause is looked for along the chain.
    """
    parsed = url if isinstance(url, URL) else make_url(url)
    where = f"{setting}={hide_password(parsed)}"
    for cause in _chain(exc):
        line = _explain_one(cause, parsed, where, timeout)
        if line is not None:
            return line
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop(0)
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return seen


def _explain_one(exc: BaseException, url: URL, where: str, timeout: float) -> str | None:
    if url.get_backend_name() == "sqlite":
        if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
            return f"Cannot open the SQLite database {url.database}: {exc}. Check {where}"
        if isinstance(exc, OSError):  # its folder cannot be created
            reason = f"{exc.strerror} ({exc.filename})" if exc.filename else str(exc)
            return f"Cannot create the SQLite database {url.database}: {reason}. Check {where}"
        return None
    host = url.host or "localhost"
    port = url.port or 5432
    address = f"{host}:{port}"
    user = url.username or getpass.getuser()
    database = url.database or user
    sqlstate = getattr(exc, "sqlstate", None)
    server_message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if sqlstate == "3D000":  # invalid_catalog_name
        return (
            f'Database "{database}" does not exist on the PostgreSQL server at {address}: create '
            f"it with `createdb -h {host} -p {port} -U {user} {database}`, or fix {where}"
        )
    if sqlstate == "28P01":  # invalid_password
        return (
            f'The PostgreSQL server at {address} refused the password of role "{user}": check the '
            f"password in {where}"
        )
    if sqlstate == "28000" and "does not exist" in server_message:  # no such role
        return (
            f'Role "{user}" does not exist on the PostgreSQL server at {address}: create it '
            f"(e.g. `createuser -h {host} -p {port} --pwprompt {user}` as a superuser), or "
            f"fix {where}"
        )
    # The rest of the refusals: pg_hba.conf, too many connections, starting up, shutting down.
    if sqlstate in {"28000", "53300", "57P03"}:
        return (
            f"The PostgreSQL server at {address} refused the connection: {server_message}. "
            f"Check {where}"
        )
    if isinstance(exc, socket.gaierror):
        return f'Cannot connect to the database: unknown host "{host}". Check {where}'
    if isinstance(exc, TimeoutError):
        return (
            f"Cannot connect to the database: {address} did not answer within {timeout:g} s. "
            f"Check {where}"
        )
    if isinstance(exc, ConnectionRefusedError) or (
        isinstance(exc, OSError)
        and (exc.errno == errno.ECONNREFUSED or f"[Errno {errno.ECONNREFUSED}]" in str(exc))
    ):
        return (
            f"Cannot connect to the database: nothing accepts connections at {address} "
            f"(connection refused; is PostgreSQL running there?). Check {where}"
        )
    if isinstance(exc, OSError):
        reason = exc.strerror or server_message
        return f"Cannot connect to the database at {address}: {reason}. Check {where}"
    return None
