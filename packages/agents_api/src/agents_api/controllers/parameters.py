"""The parameters several routes take, declared once: paging, ``If-Match``, numbers in range."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter, Parameter

from agents_core.errors import VersionMismatch

__all__ = [
    "MAX_INT32",
    "IfMatchRevision",
    "IfMatchVersion",
    "Limit",
    "Offset",
    "etag",
    "etag_values",
    "expected_version",
]

MAX_INT32 = 2**31 - 1
"""Largest version number and offset: what the database's integer parameters hold."""

Limit = Annotated[int, Parameter(ge=1, le=500, description="Page size")]
Offset = Annotated[int, Parameter(ge=0, le=MAX_INT32, description="Rows to skip")]


def _if_match(condition: str) -> HeaderParameter:
    return HeaderParameter(
        name="If-Match",
        required=False,
        description=f'Only apply when the {condition}, e.g. `"3"` (its `ETag`)',
    )


IfMatchVersion = Annotated[str | None, _if_match("agent is at this version")]
IfMatchRevision = Annotated[str | None, _if_match("environment is at this revision")]


def etag(number: int) -> str:
    """The ``ETag`` of an agent's version or an environment's revision."""
    return f'"{number}"'


def etag_values(header: str) -> list[str]:
    """The numbers an ``If-Match`` or ``If-None-Match`` header lists (weak or strong)."""
    return [v.strip().removeprefix("W/").strip('"') for v in header.split(",")]


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header asks for; a value that names no version can match
    nothing, so it fails as a mismatch."""
    if if_match is None or if_match.strip() == "*":
        return None
    for value in etag_values(if_match):
        if value.isdigit() and len(value) <= 10:
            return int(value)
    raise VersionMismatch(f"If-Match {if_match!r} does not name a version of this agent")
