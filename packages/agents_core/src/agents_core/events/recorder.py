"""Record agent events in the writing transaction (and notify listeners at commit).

Ordering. Event ids come from a sequence, and a sequence hands out numbers in the order
transactions *ask*, not the order they *commit*: with two concurrent writers, id 11 can become
visible before id 10, and a reader that remembered "everything up to 11" would never see 10.
So on PostgreSQL, before inserting, a writer takes a transaction-level advisory lock on its
organization and holds it until it commits or rolls back. Within an organization, events are
therefore numbered in commit order, and a reader that has seen event ``n`` has seen (or will
never see) every event of that organization numbered below ``n``: the change feed's cursor is
just the id (see :mod:`agents_core.events.feed`). The lock is held only from the event insert to
the end of the transaction, which is why callers record their events last. SQLite has a single
writer at a time, so ids are in commit order there without a lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, text

from agents_core.db.database import Connection, Query
from agents_core.db.models import AgentEventRow
from agents_core.schemas import AgentEventKind

__all__ = ["NOTIFY_CHANNEL", "ORDER_LOCK_NAMESPACE", "EventRecord", "record_events"]

NOTIFY_CHANNEL = "agent_events"
"""The PostgreSQL channel that carries ``<organization_id>:<agent_id>:<version>`` at commit."""

ORDER_LOCK_NAMESPACE = 0x61676576
"""First key of the per-organization advisory lock (two int4 keys; the second is the hash of
the organization id). Two-key advisory locks never collide with single bigint keys."""

EventRecord = tuple[UUID, UUID, int, AgentEventKind]
"""(organization_id, agent_id, version, kind)."""

# One round trip: lock each organization (sorted, so that two writers never wait for each other
# in opposite orders) and queue the notices, which PostgreSQL delivers only at commit.
_LOCK_AND_NOTIFY = Query(
    text(
        "WITH locked AS ("
        " SELECT pg_advisory_xact_lock(CAST(:namespace AS integer), hashtext(o))"
        " FROM unnest(CAST(:organizations AS text[])) WITH ORDINALITY AS l(o, n) ORDER BY n),"
        " sent AS (SELECT pg_notify(:channel, p) FROM unnest(CAST(:payloads AS text[])) AS p)"
        " SELECT (SELECT count(*) FROM locked), (SELECT count(*) FROM sent)"
    )
)
_EVENTS = cast(Table, AgentEventRow.__table__)
_INSERT_EVENT = Query(
    insert(_EVENTS).values(
        organization_id=bindparam("e_organization_id"),
        agent_id=bindparam("e_agent_id"),
        version=bindparam("e_version"),
        kind=bindparam("e_kind"),
        actor_id=bindparam("e_actor_id"),
        created_at=bindparam("e_created_at"),
    )
)


async def record_events(
    conn: Connection, events: Iterable[EventRecord], *, actor_id: UUID | None
) -> None:
    """Append events in the connection's transaction: they exist if and only if the change
    commits.

    On PostgreSQL each event is also sent with ``pg_notify``, which the server delivers only when
    the transaction commits (and never if it rolls back). Call this as the last write of the
    transaction: it holds the organization's event-order lock until the end.
    """
    now = datetime.now(UTC)
    rows = [
        {
            "e_organization_id": organization_id,
            "e_agent_id": agent_id,
            "e_version": version,
            "e_kind": kind.value,
            "e_actor_id": actor_id,
            "e_created_at": now,
        }
        for organization_id, agent_id, version, kind in events
    ]
    if not rows:
        return
    if conn.is_postgres:
        organizations = sorted({str(r["e_organization_id"]) for r in rows})
        payloads = [f"{r['e_organization_id']}:{r['e_agent_id']}:{r['e_version']}" for r in rows]
        await conn.fetch(
            _LOCK_AND_NOTIFY,
            {
                "namespace": ORDER_LOCK_NAMESPACE,
                "organizations": organizations,
                "channel": NOTIFY_CHANNEL,
                "payloads": payloads,
            },
        )
    await conn.execute_many(_INSERT_EVENT, rows)
