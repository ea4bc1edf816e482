"""The event feed's statements: record events in the writing transaction, read them back.

Ordering. Event ids come from a sequence, and a sequence hands out numbers in the order
transactions *ask*, not the order they *commit*: with two concurrent writers, id 11 can become
visible before id 10, and a reader that remembered "everything up to 11" would never see 10.
So, before inserting, a writer takes a transaction-level lock on its organization
(:meth:`~agents_core.db.Connection.lock_and_notify`) and holds it until it commits or rolls
back. Within an organization, events are therefore numbered in commit order, and a reader that
has seen event ``n`` has seen (or will never see) every event of that organization numbered
below ``n``: the feed's cursor is just the id (see :mod:`agents_core.events.service`). The lock
is held only from the event insert to the end of the transaction, which is why callers record
their events last. The same call queues a notice per event for change followers, delivered at
commit (and never if the transaction rolls back).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

import msgspec
from sqlalchemy import BigInteger, Integer, Table, bindparam, func, insert, select

from agents_core.db import Query, Repository, RowShape
from agents_core.db.models import AgentEventRow
from agents_core.schemas import AgentEventKind

__all__ = [
    "NOTIFY_CHANNEL",
    "ORDER_LOCK_NAMESPACE",
    "Event",
    "EventRepository",
    "StoredEvent",
]

NOTIFY_CHANNEL = "agent_events"
"""The PostgreSQL channel that carries ``<organization_id>:<agent_id>:<version>`` at commit."""

ORDER_LOCK_NAMESPACE = 0x61676576
"""First key of the per-organization ordering lock (two int4 keys; the second is the hash of
the organization id). Two-key advisory locks never collide with single bigint keys."""


class Event(msgspec.Struct, frozen=True):
    """What a write did, as the feed records it."""

    organization_id: UUID
    agent_id: UUID
    version: int
    kind: AgentEventKind


class StoredEvent(msgspec.Struct, frozen=True):
    """A recorded event, as read back."""

    id: int
    organization_id: UUID
    agent_id: UUID
    version: int
    kind: AgentEventKind
    actor_id: UUID | None
    created_at: datetime


_events = cast(Table, AgentEventRow.__table__)
STORED = RowShape(StoredEvent, _events)

_INSERT = Query(
    insert(_events).values(
        organization_id=bindparam("e_organization_id"),
        agent_id=bindparam("e_agent_id"),
        version=bindparam("e_version"),
        kind=bindparam("e_kind"),
        actor_id=bindparam("e_actor_id"),
        created_at=bindparam("e_created_at"),
    )
)
# Served by the index (organization_id, id).
_PAGE = Query(
    select(*STORED.columns)
    .where(
        _events.c.organization_id == bindparam("organization_id"),
        _events.c.id > bindparam("after", type_=BigInteger()),
    )
    .order_by(_events.c.id)
    .limit(bindparam("limit", type_=Integer()))
)
# Every organization's events after a position (a change follower's poll).
_AFTER = Query(
    select(*STORED.columns)
    .where(_events.c.id > bindparam("after", type_=BigInteger()))
    .order_by(_events.c.id)
    .limit(bindparam("limit", type_=Integer()))
)
_LAST = Query(select(func.coalesce(func.max(_events.c.id), 0)))


class EventRepository(Repository):
    async def record(self, events: Sequence[Event], *, actor_id: UUID | None) -> None:
        """Append events in the connection's transaction: they exist if and only if the change
        commits. Call this as the last write of the transaction: it holds the organizations'
        ordering locks until the end."""
        if not events:
            return
        organizations = sorted({str(e.organization_id) for e in events})
        payloads = [f"{e.organization_id}:{e.agent_id}:{e.version}" for e in events]
        await self.conn.lock_and_notify(
            ORDER_LOCK_NAMESPACE, organizations, NOTIFY_CHANNEL, payloads
        )
        now = datetime.now(UTC)
        await self.conn.execute_many(
            _INSERT,
            [
                {
                    "e_organization_id": e.organization_id,
                    "e_agent_id": e.agent_id,
                    "e_version": e.version,
                    "e_kind": e.kind.value,
                    "e_actor_id": actor_id,
                    "e_created_at": now,
                }
                for e in events
            ],
        )

    async def page(self, organization_id: UUID, *, after: int, limit: int) -> list[StoredEvent]:
        """The organization's events after position ``after``, oldest first."""
        return await STORED.many(
            self.conn, _PAGE, {"organization_id": organization_id, "after": after, "limit": limit}
        )

    async def after(self, position: int, limit: int) -> list[StoredEvent]:
        """Every organization's events after ``position``, oldest first."""
        return await STORED.many(self.conn, _AFTER, {"after": position, "limit": limit})

    async def last_id(self) -> int:
        row = await self.conn.fetchrow(_LAST, {})
        return int(row[0]) if row else 0
