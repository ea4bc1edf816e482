"""Statements defined once with SQLAlchemy Core, compiled once per dialect."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, Table, bindparam, insert
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

__all__ = ["Query", "insert_into", "new_values"]

_PG_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]
_PG_DIALECT.paramstyle = "numeric_dollar"


class Query:
    """One statement: SQLAlchemy Core, with every parameter named (``bindparam``).

    On PostgreSQL its SQL is compiled once, on first use, for asyncpg's ``$n`` parameters; on
    SQLite SQLAlchemy runs the statement itself (and caches its compiled form). Where the two
    databases spell something differently, the statement uses a portable construct from
    :mod:`agents_core.db.types`, so that a statement is never written twice.
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


def insert_into(table: Table, columns: Sequence[str], **sql: ColumnElement[Any]) -> Insert:
    """An ``INSERT`` of ``columns``, each from the parameter ``new_<column>`` (SQLAlchemy keeps
    the column's own name for itself), the audit timestamps from ``now``, and the columns given
    as SQL in ``sql`` (literals: every parameter of a statement is named by its caller)."""
    values: dict[str, Any] = {
        name: bindparam(f"new_{name}", type_=table.c[name].type) for name in columns
    }
    values.update(created_at=bindparam("now"), updated_at=bindparam("now"), **sql)
    return insert(table).values(values)


def new_values(now: datetime, **values: Any) -> dict[str, Any]:
    """The parameters of an :func:`insert_into` statement."""
    params = {f"new_{name}": value for name, value in values.items()}
    params["now"] = now
    return params
