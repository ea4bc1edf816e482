"""Rows into wire types, by column name.

A :class:`RowShape` is made once per wire type a repository reads. It chooses the columns of
its ``SELECT`` by the wire type's field names (``table.c[field]``, or an expression given for a
field), so the statement and the type cannot drift apart: a field the table lacks fails at
import, not as a silently shifted value. Rows then become the type positionally, in the order
the shape itself generated, which is the fastest construction msgspec offers (a list of 100
agents is read in a third of a microsecond per row).

Values the drivers return in their stored form are converted by the field's declared type,
worked out once from the type: an enum from its value, a list of enum members, a nested
:class:`msgspec.Struct` (a JSON document) through :func:`msgspec.convert`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import msgspec
import msgspec.inspect as mi
from sqlalchemy import ColumnElement, FromClause

from agents_core.db.connection import Connection
from agents_core.db.query import Query
from agents_core.errors import ConstraintViolation, DomainError

__all__ = ["Repository", "RowShape", "Violations"]

S = TypeVar("S", bound=msgspec.Struct)

Converter = Callable[[Any], Any]

Violations = Mapping[str, Callable[[Mapping[str, Any]], DomainError]]
"""The domain errors that a write's constraint violations stand for, by constraint name, each
made from the statement's parameters (so that a taken name can say which)."""


def _json(value: Any) -> Any:
    return msgspec.json.decode(value) if isinstance(value, str | bytes) else value


def _converter(info: mi.Type) -> Converter | None:
    """How a stored value becomes the field's type, or ``None`` when it already is one."""
    if isinstance(info, mi.EnumType):
        members = {member.value: member for member in info.cls}
        return members.__getitem__
    if isinstance(info, mi.ListType):
        item = _converter(info.item_type)
        if item is None:
            return None
        return lambda values: [item(v) for v in values]
    if isinstance(info, mi.UnionType):
        others = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(others) == 1 and (inner := _converter(others[0])) is not None:
            return lambda value: None if value is None else inner(value)
        return None
    if isinstance(info, mi.StructType):
        cls = info.cls
        return lambda value: msgspec.convert(_json(value), cls)
    return None


class RowShape(Generic[S]):
    """The columns that fill ``struct`` and the conversion of a row into it.

    ``source`` is the table (or any selectable) whose columns carry the fields' names;
    ``columns`` gives an expression for a field that is not a column of ``source`` under its
    own name. Rows may carry extra columns after the shape's (a window count): they are ignored.
    """

    __slots__ = ("_convert", "_index", "_size", "columns", "fields", "struct")

    def __init__(
        self,
        struct: type[S],
        source: FromClause,
        *,
        columns: Mapping[str, ColumnElement[Any]] | None = None,
    ) -> None:
        given = dict(columns or {})
        self.struct = struct
        self.fields: tuple[str, ...] = struct.__struct_fields__
        self.columns: list[ColumnElement[Any]] = [
            (given.pop(name) if name in given else source.c[name]).label(name)
            for name in self.fields
        ]
        if given:
            raise ValueError(f"{struct.__name__} has no fields {sorted(given)}")
        info = mi.type_info(struct)
        assert isinstance(info, mi.StructType)
        self._convert = tuple(
            (index, converter)
            for index, field in enumerate(info.fields)
            if (converter := _converter(field.type)) is not None
        )
        self._size = len(self.fields)
        self._index = {name: index for index, name in enumerate(self.fields)}

    def __call__(self, row: Sequence[Any]) -> S:
        values = list(row)
        if len(values) > self._size:
            del values[self._size :]
        for index, convert in self._convert:
            values[index] = convert(values[index])
        return self.struct(*values)

    def value(self, row: Sequence[Any], field: str) -> Any:
        """One field's stored value in a row of this shape."""
        return row[self._index[field]]

    def all(self, rows: Sequence[Sequence[Any]]) -> list[S]:
        return [self(row) for row in rows]

    async def one(self, conn: Connection, query: Query, params: Mapping[str, Any]) -> S | None:
        """The first row of ``query`` in this shape, or ``None``."""
        row = await conn.fetchrow(query, params)
        return None if row is None else self(row)

    async def get(
        self,
        conn: Connection,
        query: Query,
        params: Mapping[str, Any],
        missing: Callable[[], DomainError],
    ) -> S:
        """The first row of ``query`` in this shape; ``missing()`` is raised when there is none
        (the aggregate's not-found error)."""
        row = await conn.fetchrow(query, params)
        if row is None:
            raise missing()
        return self(row)

    async def written(
        self,
        conn: Connection,
        query: Query,
        params: Mapping[str, Any],
        violations: Violations | None = None,
    ) -> S:
        """The row a write returns (its ``RETURNING`` is this shape's columns). A constraint the
        write breaks that ``violations`` names raises that domain error instead of
        :class:`~agents_core.errors.ConstraintViolation`."""
        try:
            row = await conn.fetchrow(query, params)
        except ConstraintViolation as exc:
            make = None if violations is None else violations.get(exc.constraint or "")
            if make is None:
                raise
            raise make(params) from None
        assert row is not None, "a write read with written() returns its row"
        return self(row)

    async def many(self, conn: Connection, query: Query, params: Mapping[str, Any]) -> list[S]:
        """Every row of ``query`` in this shape."""
        return [self(row) for row in await conn.fetch(query, params)]


class Repository:
    """Base of the repositories: the statements of one aggregate, run on one connection (its
    transaction, if any)."""

    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
