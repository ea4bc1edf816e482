"""Column types that are native on PostgreSQL and fall back to JSON on SQLite."""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from advanced_alchemy.types import GUID
from sqlalchemy import JSON, BigInteger, Boolean, String, bindparam, func, literal_column, select
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine

__all__ = [
    "AnyOf",
    "ArrayContains",
    "JSONDocument",
    "JsonIdList",
    "JsonObjectAgg",
    "JsonText",
    "NextEventPosition",
    "StringList",
    "UUIDElement",
    "UUIDList",
]


T = TypeVar("T")


class _ListColumn(TypeDecorator[list[T]]):
    """A list column: an array of ``item`` on PostgreSQL, a JSON array elsewhere."""

    impl = JSON
    cache_ok = True
    item: TypeEngine[Any]

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(ARRAY(self.item))
        return dialect.type_descriptor(JSON())


class UUIDList(_ListColumn[UUID]):
    """A list of UUIDs: ``uuid[]`` on PostgreSQL, a JSON array of strings elsewhere."""

    cache_ok = True
    item = PG_UUID(as_uuid=True)

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


class StringList(_ListColumn[str]):
    """A list of strings: ``varchar[]`` on PostgreSQL, a JSON array elsewhere."""

    cache_ok = True
    item = String()

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> Any:
        return None if value is None else list(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> list[str] | None:
        return None if value is None else list(value)


JSONDocument = JSON().with_variant(JSONB(), "postgresql")
"""A JSON document: ``jsonb`` on PostgreSQL."""


class UUIDElement(TypeDecorator[UUID]):
    """One UUID compared with the elements of a :class:`UUIDList`: ``uuid`` on PostgreSQL, its
    text form (as the JSON array holds it) elsewhere."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(PG_UUID(as_uuid=True))
        return dialect.type_descriptor(String(36))

    def process_bind_param(self, value: UUID | None, dialect: Dialect) -> Any:
        if value is None or dialect.name == "postgresql":
            return value
        return str(value)


# -- membership: a value among the elements of an array --------------------------------------------


class ArrayContains(ColumnElement[bool]):
    """``value`` is an element of the list column ``array``, on either database.

    One construct so that a statement is written once: ``value = ANY(array)`` on PostgreSQL, a
    ``json_each`` lookup on SQLite. ``value`` is a bound parameter (typed :class:`UUIDElement`
    for a :class:`UUIDList`) or a column.
    """

    inherit_cache = True
    type = Boolean()
    _traverse_internals = [
        ("array", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, array: Any, value: ColumnElement[Any]) -> None:
        self.array = array
        self.value = value


class AnyOf(ArrayContains):
    """``expression`` equals one of the values of the list parameter ``name``: one array
    parameter on PostgreSQL (``= ANY($1)``, any length), an expanding ``IN (…)`` elsewhere."""

    inherit_cache = True
    _traverse_internals = [
        *ArrayContains._traverse_internals,
        ("expanding", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self, expression: ColumnElement[Any], name: str, item_type: TypeEngine[Any] | None = None
    ) -> None:
        item = item_type if item_type is not None else expression.type
        super().__init__(bindparam(name, type_=ARRAY(item)), expression)
        self.expanding = bindparam(name, type_=item, expanding=True)


@compiles(ArrayContains, "postgresql")
@compiles(AnyOf, "postgresql")
def _equals_any(element: ArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{compiler.process(element.value, **kw)} = ANY({compiler.process(element.array, **kw)})"


@compiles(ArrayContains)
def _array_contains_json(element: ArrayContains, compiler: SQLCompiler, **kw: Any) -> str:
    array = compiler.process(element.array, **kw)
    value = compiler.process(element.value, **kw)
    element_value = "json_each.value"
    if isinstance(element.value.type, GUID):
        # An id column: stored as 16 bytes, while the JSON array holds ids as text.
        value = f"lower(hex({value}))"
        element_value = "replace(json_each.value, '-', '')"
    # Every part is a compiled SQL fragment (columns, bound parameters), never input.
    return f"EXISTS (SELECT 1 FROM json_each({array}) WHERE {element_value} = {value})"  # noqa: S608


@compiles(AnyOf)
def _any_of_in(element: AnyOf, compiler: SQLCompiler, **kw: Any) -> str:
    expression = compiler.process(element.value, **kw)
    # An expanding parameter renders its own parentheses.
    return f"{expression} IN {compiler.process(element.expanding, **kw)}"


# -- JSON documents -------------------------------------------------------------------------------


class _DocumentMember(ColumnElement[T]):
    """What the JSON document ``document`` holds under ``key``: ``json_extract`` on SQLite,
    each subclass its own PostgreSQL operator."""

    inherit_cache = True
    _traverse_internals = [
        ("document", InternalTraversal.dp_clauseelement),
        ("member", InternalTraversal.dp_string),
    ]

    def __init__(self, document: ColumnElement[Any], key: str) -> None:
        self.document = document
        self.member = key


class JsonIdList(_DocumentMember[Any]):
    """The list of ids under ``key`` in the JSON document ``document``, as an array that
    :class:`ArrayContains` can search: ``uuid[]`` on PostgreSQL, JSON text elsewhere."""

    inherit_cache = True
    type = UUIDList()


class JsonText(_DocumentMember[str]):
    """The text under ``key`` in the JSON document ``document`` (NULL when the document is):
    ``document ->> 'key'`` on PostgreSQL, ``json_extract`` elsewhere."""

    inherit_cache = True
    type = String()


@compiles(JsonIdList)
@compiles(JsonText)
def _document_member_json(element: _DocumentMember[Any], compiler: SQLCompiler, **kw: Any) -> str:
    document = compiler.process(element.document, **kw)
    path = compiler.render_literal_value(f"$.{element.member}", String())
    return f"json_extract({document}, {path})"


@compiles(JsonIdList, "postgresql")
def _json_id_list_pg(element: JsonIdList, compiler: SQLCompiler, **kw: Any) -> str:
    document = compiler.process(element.document, **kw)
    key = compiler.render_literal_value(element.member, String())
    return f"ARRAY(SELECT CAST(jsonb_array_elements_text({document} -> {key}) AS uuid))"


@compiles(JsonText, "postgresql")
def _json_text_pg(element: JsonText, compiler: SQLCompiler, **kw: Any) -> str:
    document = compiler.process(element.document, **kw)
    return f"({document} ->> {compiler.render_literal_value(element.member, String())})"


class JsonObjectAgg(ColumnElement[Any]):
    """An aggregate: a JSON object from ``key`` → ``value`` over the group's rows. An id key is
    written as hexadecimal text (``uuid.UUID`` reads both spellings)."""

    inherit_cache = True
    type = JSON()
    _traverse_internals = [
        ("grouped_key", InternalTraversal.dp_clauseelement),
        ("grouped_value", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, key: ColumnElement[Any], value: ColumnElement[Any]) -> None:
        self.grouped_key = key
        self.grouped_value = value


@compiles(JsonObjectAgg, "postgresql")
def _json_object_agg_pg(element: JsonObjectAgg, compiler: SQLCompiler, **kw: Any) -> str:
    key = compiler.process(element.grouped_key, **kw)
    return f"jsonb_object_agg({key}, {compiler.process(element.grouped_value, **kw)})"


@compiles(JsonObjectAgg)
def _json_object_agg_json(element: JsonObjectAgg, compiler: SQLCompiler, **kw: Any) -> str:
    key = compiler.process(element.grouped_key, **kw)
    if isinstance(element.grouped_key.type, GUID):
        key = f"lower(hex({key}))"
    return f"json_group_object({key}, {compiler.process(element.grouped_value, **kw)})"


# -- the event feed's numbering -----------------------------------------------------------------


class NextEventPosition(ColumnElement[int]):
    """The ``position`` of an organization's next event, as an insert writes it: one more than
    the organization's last (rows whose ``organization`` column equals the parameter
    ``organization_id``), read under its ordering lock, in commit order.

    On SQLite (one writer at a time, commits in order) that is a subquery. On PostgreSQL the
    insert writes null and a deferred trigger numbers the event when its transaction commits
    (migration 0003); the expression, ``agent_event_notice(notice)``, queues the event's notice
    (``notice``: a text parameter, null for none) for delivery at commit.
    """

    inherit_cache = True
    type = BigInteger()
    _traverse_internals = [
        ("position", InternalTraversal.dp_clauseelement),
        ("organization", InternalTraversal.dp_clauseelement),
        ("organization_id", InternalTraversal.dp_clauseelement),
        ("notice", InternalTraversal.dp_clauseelement),
    ]

    def __init__(
        self,
        position: ColumnElement[Any],
        organization: ColumnElement[Any],
        organization_id: ColumnElement[Any],
        notice: ColumnElement[Any],
    ) -> None:
        self.position = position
        self.organization = organization
        self.organization_id = organization_id
        self.notice = notice


@compiles(NextEventPosition, "postgresql")
def _next_event_position_pg(element: NextEventPosition, compiler: SQLCompiler, **kw: Any) -> str:
    return f"agent_event_notice({compiler.process(element.notice, **kw)})"


@compiles(NextEventPosition)
def _next_event_position(element: NextEventPosition, compiler: SQLCompiler, **kw: Any) -> str:
    table = element.position.table
    last = (
        select(func.coalesce(func.max(element.position), literal_column("0")))
        .where(element.organization == element.organization_id)
        .select_from(table)
        .scalar_subquery()
    )
    return f"({compiler.process(last, **kw)} + 1)"
