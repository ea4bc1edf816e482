"""Driver errors turned into domain errors, in one place.

Both drivers (asyncpg on PostgreSQL, SQLAlchemy over aiosqlite on SQLite) raise their own
exception types. :class:`~agents_core.db.connection.Connection` passes every failure through
:func:`domain_error`, so code above ``db/`` only ever sees the domain's errors:

* :class:`DatabaseUnavailable` — refused, dropped or timed out (a pooled connection, a lock or a
  statement that waited longer than the configured timeout);
* :class:`ConstraintViolation` — a unique index or foreign key, named when the database says;
* :class:`InvalidValue` — a value the column cannot hold;
* :class:`ConcurrentChange` — a deadlock or serialization failure the database resolved by
  rolling this transaction back.

Anything else is returned unchanged: it is a bug, and the API answers it with a 500.
"""

from __future__ import annotations

import re
import sys

from sqlalchemy import exc as sa_exc

from agents_core.errors import (
    ConcurrentChange,
    ConstraintViolation,
    DatabaseUnavailable,
    InvalidValue,
)

__all__ = ["domain_error", "is_unavailable", "spoils_connection"]

# SQLSTATE classes and codes (PostgreSQL appendix A).
_UNAVAILABLE_CLASSES = ("08", "53", "57P")  # connection, resources, shutdown / cannot connect now
_TIMED_OUT = ("55P03", "57014")  # lock_not_available (lock_timeout), query_canceled (statement_)
_SQLITE_INDEX = re.compile(r"index '([^']+)'")


def _from_asyncpg(exc: BaseException) -> Exception | None:
    import asyncpg

    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        if state.startswith("23"):
            return ConstraintViolation(getattr(exc, "constraint_name", None))
        if state.startswith("22"):
            return InvalidValue()
        if state.startswith("40"):
            return ConcurrentChange()
        if state in _TIMED_OUT or state.startswith(_UNAVAILABLE_CLASSES):
            return DatabaseUnavailable()
        return None
    if isinstance(exc, asyncpg.InterfaceError):
        # A value asyncpg cannot encode for its column (an integer past int4) is a client-side
        # ``DataError``, which is both an InterfaceError and a ValueError; the other interface
        # errors are about the connection itself (closed, in an unusable state).
        return InvalidValue() if isinstance(exc, ValueError) else DatabaseUnavailable()
    if isinstance(exc, asyncpg.InternalClientError):
        # The driver's protocol in a state it did not expect: seen when the server ended the
        # connection (an administrator, a restart) while it sat in the pool. Unusable.
        return DatabaseUnavailable()
    return None


def _from_sqlalchemy(exc: sa_exc.SQLAlchemyError) -> BaseException | None:
    if isinstance(exc, sa_exc.TimeoutError):  # no pooled connection within pool_timeout
        return DatabaseUnavailable()
    if isinstance(exc, sa_exc.IntegrityError):
        found = _SQLITE_INDEX.search(str(exc.orig))
        return ConstraintViolation(found.group(1) if found else None)
    if isinstance(exc, sa_exc.DataError):
        return InvalidValue()
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError):
            # SQLite's "database is locked" (busy_timeout ran out), a file it cannot open.
            return DatabaseUnavailable()
        if exc.orig is not None:
            return domain_error(exc.orig)
    return None


def domain_error(exc: BaseException) -> BaseException:
    """The domain error a driver failure stands for, or ``exc`` itself when it stands for none."""
    if isinstance(exc, TimeoutError | ConnectionError | OSError):
        return DatabaseUnavailable()
    if isinstance(exc, sa_exc.SQLAlchemyError):
        return _from_sqlalchemy(exc) or exc
    if isinstance(exc, OverflowError):  # sqlite3: an integer past 64 bits
        return InvalidValue()
    sqlite3 = sys.modules.get("sqlite3")  # not loaded: not a SQLite error
    if sqlite3 is not None and isinstance(exc, sqlite3.DataError):
        return InvalidValue()
    if type(exc).__module__.startswith("asyncpg"):
        return _from_asyncpg(exc) or exc
    return exc


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(domain_error(exc), DatabaseUnavailable)


def spoils_connection(exc: BaseException) -> bool:
    """Whether a driver connection that raised ``exc`` must not be used again: timed out on our
    side (the server is stalled, or the network), where it may still deliver a late answer to
    what it was sent; or the driver lost track of its state (the server ended it under us)."""
    if isinstance(exc, TimeoutError | OSError):
        return True
    import asyncpg

    return isinstance(exc, asyncpg.InternalClientError)
