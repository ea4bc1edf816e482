"""The organization's change feed: its agent events in order, behind an opaque cursor.

Soundness of the cursor. The feed is read in id order and a cursor is the id of the last event
read. That is only safe if no event of the organization with a smaller id can become visible
after a larger one has been read: :meth:`agents_core.events.repository.EventRepository.record`
guarantees it
by numbering each organization's events under a per-organization lock held to commit (on SQLite,
by the single writer). Reading ``id > cursor`` therefore never skips an event, and a cursor stays
valid forever (events are never rewritten; gaps left by rolled-back transactions are harmless).

The cursor is opaque to clients (``"ev1_" + base64url(id)``) so that its encoding can change
with a new prefix while old cursors keep working.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final
from uuid import UUID

from agents_core.db import Connection
from agents_core.errors import InvalidInput
from agents_core.events.repository import EventRepository, StoredEvent
from agents_core.schemas import AgentEvent, AgentEventPage, FieldError

__all__ = [
    "MAX_LIMIT",
    "EventService",
    "InvalidCursor",
    "decode_cursor",
    "encode_cursor",
    "event_public",
]

MAX_LIMIT: Final = 500
_PREFIX: Final = "ev1_"
_MAX_ID: Final = 2**63 - 1


class InvalidCursor(InvalidInput):
    code = "invalid_cursor"

    def __init__(self, field: str = "after") -> None:
        super().__init__(
            f"{field} is not a cursor returned by this feed",
            errors=[FieldError(field=field, message="not a cursor returned by this feed")],
        )


def encode_cursor(event_id: int) -> str:
    raw = event_id.to_bytes(8, "big").lstrip(b"\x00") or b"\x00"
    return _PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, *, field: str = "after") -> int:
    """The event id a cursor stands for; :class:`InvalidCursor` for anything else."""
    if not cursor.startswith(_PREFIX) or len(cursor) > len(_PREFIX) + 12:
        raise InvalidCursor(field)
    body = cursor[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        raise InvalidCursor(field) from None
    value = int.from_bytes(raw, "big")
    # Only the canonical spelling is accepted, so that every position has exactly one cursor.
    if not raw or value > _MAX_ID or encode_cursor(value) != cursor:
        raise InvalidCursor(field)
    return value


def event_public(event: StoredEvent) -> AgentEvent:
    return AgentEvent(
        id=event.id,
        cursor=encode_cursor(event.id),
        organization_id=event.organization_id,
        agent_id=event.agent_id,
        version=event.version,
        kind=event.kind,
        actor_id=event.actor_id,
        created_at=event.created_at,
    )


class EventService:
    """The organization's change feed, page by page behind an opaque cursor."""

    __slots__ = ("events",)

    def __init__(self, conn: Connection) -> None:
        self.events = EventRepository(conn)

    async def page(
        self, organization_id: UUID, *, after: str | None = None, limit: int = 100
    ) -> AgentEventPage:
        """The organization's events after ``after`` (a cursor; from the start when ``None``),
        oldest first, at most ``limit`` of them."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(
                f"limit must be between 1 and {MAX_LIMIT}",
                errors=[FieldError(field="limit", message=f"must be between 1 and {MAX_LIMIT}")],
            )
        position = 0 if after is None else decode_cursor(after)
        stored = await self.events.page(organization_id, after=position, limit=limit + 1)
        events = [event_public(event) for event in stored[:limit]]
        return AgentEventPage(
            events=events,
            next_cursor=events[-1].cursor if events else after,
            has_more=len(stored) > limit,
        )
