"""Request bodies: JSON only, nested at most 64 levels, and every bad field reported at once.

:func:`check_body` runs before a route's body is decoded (an app-level ``before_request``
hook, after the route's guards): a body with a ``Content-Type`` that is not JSON is refused
(415) and one nested too deep is refused (400) before any decoder recurses into it. A body
without a ``Content-Type`` is read as JSON, as the contract says.

Decoding itself stays msgspec's, strict and fast, which stops at the first bad field. When it
fails, :func:`field_errors` walks the decoded document against the body type, member by member
and item by item, so that the answer lists every bad field (at most :data:`MAX_ERRORS`).
"""

from __future__ import annotations

import operator
import re
import types
import typing
from itertools import accumulate
from typing import Any, Final, Union, cast

import msgspec
from litestar import Request
from litestar.exceptions import HTTPException
from msgspec import Struct

from agents_core.errors import InvalidInput
from agents_core.schemas import FieldError, UnsetType, split_field_message

__all__ = [
    "MAX_DEPTH",
    "MAX_ERRORS",
    "UnsupportedMediaType",
    "body_type",
    "check_body",
    "field_errors",
    "nested_deeper_than",
]

MAX_DEPTH: Final = 64
"""Deepest nesting of arrays and objects a body may have."""
MAX_ERRORS: Final = 100
"""Most ``errors`` entries a problem document lists."""

_BODY_KEY: Final = "agents.body"
"""Where the hook keeps the raw body in the scope, for :func:`request_body_errors`."""

_JSON_TYPE = re.compile(r"application/(?:json|[!#$&^_.+\-a-z0-9]+\+json)", re.IGNORECASE)

# A JSON string, escapes included; what is left outside strings is structure and scalars.
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
_STEPS = bytes.maketrans(b"[]", b"\x02\x00")
_COLLAPSING_PASSES = 4


class UnsupportedMediaType(HTTPException):
    status_code = 415


def is_json_media_type(content_type: str) -> bool:
    """``application/json`` or ``application/*+json``, with any parameters."""
    media_type = content_type.partition(";")[0].strip()
    return _JSON_TYPE.fullmatch(media_type) is not None


def nested_deeper_than(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` levels deep.

    Without recursion, and at C speed: strings are removed and only the brackets kept. A few
    passes delete every innermost ``[]`` pair (each pass lowers the depth of every structure by
    exactly one, and empties a body of ordinary shape in two or three); the depth of what is left
    is the highest running count of open brackets, counted by iterators implemented in C.
    Unbalanced brackets count as they would for a decoder, which recurses on every open one.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", body).translate(_BRACKETS, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:
        return True
    passes = 0
    while passes < _COLLAPSING_PASSES:
        shorter = brackets.replace(b"[]", b"")
        if not shorter:
            return False
        if len(shorter) == len(brackets):
            break
        brackets = shorter
        passes += 1
    steps = brackets.translate(_STEPS)  # "[" counts 2, "]" 0: one more and one less than 1
    deepest = max(map(operator.sub, accumulate(steps), range(1, len(steps) + 1)), default=0)
    return passes + deepest > limit


def takes_body(request: Request[Any, Any, Any]) -> bool:
    return "data" in request.route_handler.parsed_fn_signature.parameters


async def check_body(request: Request[Any, Any, Any]) -> None:
    """Refuse a non-JSON or too deeply nested body before the route decodes it."""
    if not takes_body(request):
        return
    body = await request.body()
    if not body:
        return
    content_type = request.headers.get("content-type")
    if content_type is not None and not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            "The body must be JSON: send it as Content-Type: application/json"
        )
    if nested_deeper_than(body):
        message = f"nested deeper than {MAX_DEPTH} levels"
        raise InvalidInput(
            f"The JSON body is {message}", errors=[FieldError(field="body", message=message)]
        )
    cast("dict[str, Any]", request.scope)[_BODY_KEY] = body


def body_type(request: Request[Any, Any, Any]) -> Any:
    """The type the route decodes its body into (``None`` when it takes none)."""
    field = request.route_handler.parsed_fn_signature.parameters.get("data")
    return None if field is None else field.annotation


def request_body_errors(request: Request[Any, Any, Any]) -> list[FieldError] | None:
    """Every bad field of the request's body, or ``None`` when the body did not pass through
    :func:`check_body` or is not a JSON document."""
    body = cast("dict[str, Any]", request.scope).get(_BODY_KEY)
    target = body_type(request)
    if not isinstance(body, bytes) or target is None:
        return None
    try:
        document = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return None
    return field_errors(target, document)


# -- walking a document against a type ------------------------------------------------------------


def _without_annotations(tp: Any) -> Any:
    while typing.get_origin(tp) is typing.Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (Union, types.UnionType)


def _struct_type(tp: Any) -> type[Struct] | None:
    tp = _without_annotations(tp)
    return tp if isinstance(tp, type) and issubclass(tp, Struct) else None


def _where(path: str, message: str) -> FieldError:
    """A msgspec message, its own ``- at `$…``` suffix folded into the field path."""
    text, _, at = message.partition(" - at `$")
    inner = at.rstrip("`")
    field = (path + inner).lstrip(".") or "body"
    return FieldError(field=field, message=text)


def _checks(path: str, message: str) -> list[FieldError]:
    """A body type's own checks (``__post_init__``): one ``"<field>: <message>"`` per line."""
    text, _, at = message.partition(" - at `$")
    base = (path + at.rstrip("`")).lstrip(".")
    found: list[FieldError] = []
    for line in text.splitlines():
        field, what = split_field_message(line)
        if field is None:
            found.append(FieldError(field=base or "body", message=what))
        else:
            found.append(FieldError(field=f"{base}.{field}" if base else field, message=what))
    return found


def _convert(tp: Any, value: Any, path: str, found: list[FieldError]) -> None:
    try:
        msgspec.convert(value, tp, strict=False)
    except msgspec.ValidationError as exc:
        found.append(_where(path, str(exc)))


def field_errors(tp: Any, value: Any, path: str = "") -> list[FieldError]:
    """Every bad field of ``value`` read as ``tp`` (stops after :data:`MAX_ERRORS` + 1)."""
    found: list[FieldError] = []
    _walk(tp, value, path, found)
    return found


def _walk(tp: Any, value: Any, path: str, found: list[FieldError]) -> None:
    if len(found) > MAX_ERRORS:
        return
    bare = _without_annotations(tp)
    if _is_union(bare):
        members = [
            arg
            for arg in typing.get_args(bare)
            if arg is not type(None) and _without_annotations(arg) is not UnsetType
        ]
        if value is None and len(members) < len(typing.get_args(bare)):
            return
        if len(members) == 1:
            _walk(members[0], value, path, found)
            return
        _convert(tp, value, path, found)
        return
    struct = _struct_type(bare)
    if struct is not None:
        _walk_struct(struct, value, path, found)
        return
    if typing.get_origin(bare) is list and isinstance(value, list):
        (item_type,) = typing.get_args(bare) or (Any,)
        before = len(found)
        for index, item in enumerate(value):
            _walk(item_type, item, f"{path}[{index}]", found)
            if len(found) > MAX_ERRORS:
                return
        if len(found) == before:
            # The items are fine one by one: what is left is the list's own constraints.
            _convert(tp, value, path, found)
        return
    _convert(tp, value, path, found)


def _walk_struct(struct: type[Struct], value: Any, path: str, found: list[FieldError]) -> None:
    if not isinstance(value, dict):
        _convert(struct, value, path, found)
        return
    before = len(found)
    fields = {field.encode_name: field for field in msgspec.structs.fields(struct)}
    if struct.__struct_config__.forbid_unknown_fields:
        for name in value:
            if name not in fields:
                where = f"{path}.{name}".lstrip(".")
                found.append(FieldError(field=where, message="unknown field"))
    for name, field in fields.items():
        where = f"{path}.{name}".lstrip(".")
        if name in value:
            _walk(field.type, value[name], where, found)
        elif field.required:
            found.append(FieldError(field=where, message="this field is required"))
        if len(found) > MAX_ERRORS:
            return
    if len(found) == before:
        # Every member is fine on its own: the type's own checks (blank names, duplicates …).
        try:
            msgspec.convert(value, struct, strict=False)
        except msgspec.ValidationError as exc:
            found.extend(_checks(path, str(exc)))
