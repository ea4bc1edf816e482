"""Record agent events in the writing transaction (and notify listeners at commit)."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from sqlalchemy import String, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from agents_core.db.models import AgentEventRow
from agents_core.schemas import AgentEventKind

__all__ = ["NOTIFY_CHANNEL", "EventRecord", "record_events"]

NOTIFY_CHANNEL = "agent_events"
"""The PostgreSQL channel that carries ``<organization_id>:<agent_id>:<version>`` at commit."""

EventRecord = tuple[UUID, UUID, int, AgentEventKind]
"""(organization_id, agent_id, version, kind)."""


async def record_events(
    session: AsyncSession, events: Iterable[EventRecord], *, actor_id: UUID | None
) -> None:
    """Append events in the session's transaction: they exist if and only if the change commits.

    On PostgreSQL each event is also sent with ``pg_notify``, which the server delivers only when
    the transaction commits (and never if it rolls back).
    """
    rows = [
        {
            "organization_id": organization_id,
            "agent_id": agent_id,
            "version": version,
            "kind": kind.value,
            "actor_id": actor_id,
        }
        for organization_id, agent_id, version, kind in events
    ]
    if not rows:
        return
    await session.execute(insert(AgentEventRow), rows)
    if session.get_bind().dialect.name == "postgresql":
        payloads = [f"{r['organization_id']}:{r['agent_id']}:{r['version']}" for r in rows]
        await session.execute(
            # One round trip for all of them.
            select(
                func.pg_notify(
                    NOTIFY_CHANNEL,
                    func.unnest(bindparam("payloads", payloads, type_=ARRAY(String()))),
                )
            )
        )
