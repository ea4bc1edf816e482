"""Column types that are native on PostgreSQL and fall back to JSON on SQLite."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = ["ArrayContains", "JSONDocument", "StringList", "UUIDList"]


class UUIDList(TypeDecorator[list[UUID]]):
    """A list of UUIDs: ``uuid[]`` on PostgreSQL, a JSON array of strings elsewhere."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(PG_UUID(as_uuid=True)))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: list[UUID] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return list(value)
        return [str(item) for item in value]

    def process_result_value(self, value: Any, dialect: Dialect) -> list[UUID] | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return list(value)
        return [UUID(item) for item in value]


class StringList(TypeDecorator[list[str]]):
    """A list of strings: ``varchar[]`` on PostgreSQL, a JSON array elsewhere."""

    impl = JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(String()))
        return dialect.type_descriptor(JSON())

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        return None if value is None else list(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        return None if value is None else list(value)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: ``jsonb`` on PostgreSQL."""


class ArrayContains(ColumnElement[bool]):
    """``value`` is an element of the list column ``array``, on either database.

    One construct so that a query is defined once: ``value = ANY(array)`` on PostgreSQL, a
    ``json_each`` lookup on SQLite.
    """

    inherit_cache = True
    type = Boolean()

    def __init__(self, array: Any, value: ColumnElement[Any]) -> None:
        self.array = array
        self.value = value


@compiles(ArrayContains, "postgresql")
def _array_contains_pg(element: ArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.value, **kw)} = ANY({compiler.process(element.array, **kw)})"


@compiles(ArrayContains)
def _array_contains_json(element: ArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    array = compiler.process(element.array, **kw)
    value = compiler.process(element.value, **kw)
    # Both parts are compiled SQL fragments (a column and a bound parameter), never input.
    return f"EXISTS (SELECT 1 FROM json_each({array}) WHERE json_each.value = {value})"  # noqa: S608
