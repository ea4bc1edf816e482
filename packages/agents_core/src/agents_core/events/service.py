"""The organization's change feed: its events in commit order, behind an opaque cursor.

Soundness of the cursor. The feed is read in position order (each organization's events are
numbered 1, 2, 3 …) and a cursor is the position of the last event read. That is only safe if
no event of the organization with a smaller position can become visible after a larger one has
been read: :meth:`agents_core.events.repository.EventRepository.record` guarantees it by
numbering each organization's events under a per-organization lock held to commit (on SQLite,
by the single writer). Reading ``position > cursor`` therefore never skips an event, and a
cursor stays valid forever (events are never rewritten).

The cursor is opaque to clients: ``"ev2_" + base64url(position)``. A position counts the
organization's own events only, so a cursor says nothing about other organizations. Cursors of
the first encoding (``"ev1_" + base64url(id)``, a deployment-wide event id) are still accepted:
they resume right after that event in the organization's feed.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final, NamedTuple

from agents_core.errors import InvalidInput
from agents_core.events.repository import EventRepository, StoredEvent
from agents_core.schemas import AgentEvent, AgentEventPage, FieldError
from agents_core.service import ScopedService

__all__ = [
    "MAX_LIMIT",
    "Cursor",
    "EventService",
    "InvalidCursor",
    "decode_cursor",
    "encode_cursor",
    "event_public",
]

MAX_LIMIT: Final = 500
_PREFIX: Final = "ev2_"
_LEGACY_PREFIX: Final = "ev1_"
_MAX_ID: Final = 2**63 - 1


class InvalidCursor(InvalidInput, code="invalid_cursor"):
    """An ``after`` that is not a cursor this feed gave out."""

    def __init__(self, field: str = "after") -> None:
        super().__init__(
            f"{field} is not a cursor returned by this feed",
            errors=[FieldError(field=field, message="not a cursor returned by this feed")],
        )


def _encode(prefix: str, value: int) -> str:
    raw = value.to_bytes(8, "big").lstrip(b"\x00") or b"\x00"
    return prefix + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def encode_cursor(position: int) -> str:
    return _encode(_PREFIX, position)


class Cursor(NamedTuple):
    """Where a cursor resumes: after ``position`` in the organization's feed, or (a cursor of
    the first encoding) after the deployment-wide event id ``legacy_id``."""

    position: int = 0
    legacy_id: int = 0


def decode_cursor(cursor: str, *, field: str = "after") -> Cursor:
    """Where a cursor resumes; :class:`InvalidCursor` for anything this feed did not issue."""
    prefix = cursor[: len(_PREFIX)]
    if prefix not in (_PREFIX, _LEGACY_PREFIX) or len(cursor) > len(_PREFIX) + 12:
        raise InvalidCursor(field)
    body = cursor[len(prefix) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor(field) from None
    value = int.from_bytes(raw, "big")
    # Only the canonical spelling is accepted, so that every position has exactly one cursor.
    if not raw or value > _MAX_ID or _encode(prefix, value) != cursor:
        raise InvalidCursor(field)
    return Cursor(position=value) if prefix == _PREFIX else Cursor(legacy_id=value)


def event_public(event: StoredEvent) -> AgentEvent:
    return AgentEvent(
        id=event.position,
        cursor=encode_cursor(event.position),
        organization_id=event.organization_id,
        agent_id=event.agent_id,
        version=event.version,
        kind=event.kind,
        actor_id=event.actor_id,
        created_at=event.created_at,
        release=event.release,
        environment=event.environment,
    )


class EventService(ScopedService):
    """The scope's organization's change feed, page by page behind an opaque cursor."""

    events: EventRepository

    async def page(self, *, after: str | None = None, limit: int = 100) -> AgentEventPage:
        """The organization's events after ``after`` (a cursor; from the start when ``None``),
        oldest first, at most ``limit`` of them."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(
                f"limit must be between 1 and {MAX_LIMIT}",
                errors=[FieldError(field="limit", message=f"must be between 1 and {MAX_LIMIT}")],
            )
        cursor = Cursor() if after is None else decode_cursor(after)
        stored = await self.events.page(
            self.organization_id, after=cursor.position, after_id=cursor.legacy_id, limit=limit + 1
        )
        events = [event_public(event) for event in stored[:limit]]
        return AgentEventPage(
            events=events,
            next_cursor=events[-1].cursor if events else after,
            has_more=len(stored) > limit,
        )
