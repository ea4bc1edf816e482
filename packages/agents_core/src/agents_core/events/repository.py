"""The event feed's statements: record events in the writing transaction, read them back.

Ordering. Each organization's events are numbered 1, 2, 3 … (``position``), and a reader that
has seen position ``n`` must have seen (or never see) every event of that organization below
``n``. Numbers handed out in the order transactions *ask* would break that (11 can commit before
10), so an event is numbered under a transaction-level lock on its organization, held until the
transaction commits or rolls back, one more than the organization's last
(:class:`~agents_core.db.types.NextEventPosition`). On PostgreSQL that happens as the
transaction commits (a deferred trigger): the lock is held for the commit alone, and writers of
one organization do not wait for each other's open transactions. SQLite has one writer at a
time: the insert numbers the event, and commits are already in order. Positions are therefore
the commit order, without gaps, and the feed's cursor is just the position (see
:mod:`agents_core.events.service`). A writer that needs the order earlier (a release takes its
number under it: :meth:`EventRepository.lock_order`) takes the same lock earlier.

The deployment-wide ``id`` is kept for change followers that poll every organization at once
(SQLite); it never leaves the process.

Notices. The same insert queues a notice per event that a worker's cache must hear of, delivered
at commit (and never if the transaction rolls back): ``<organization>:<agent>:<version>`` for an
agent's change, ``env:<organization>:<environment>:<revision>`` for an environment moved or
deleted. A release created changes nothing a worker serves (environments serve releases, and a
release never changes), so it sends none.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Final, cast
from uuid import UUID

import msgspec
from sqlalchemy import (
    BigInteger,
    Integer,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)

from agents_core.db import Query, Repository, RowShape
from agents_core.db.models import AgentEventRow
from agents_core.db.types import NextEventPosition
from agents_core.schemas import AgentEventKind

__all__ = [
    "ENVIRONMENT_KINDS",
    "NOTIFY_CHANNEL",
    "ORDER_LOCK_NAMESPACE",
    "AgentNotice",
    "EnvironmentNotice",
    "Event",
    "EventRepository",
    "StoredEvent",
    "notice_of",
    "read_notice",
]

NOTIFY_CHANNEL = "agent_events"
"""The PostgreSQL channel that carries the feed's notices at commit (see the module docstring;
spelled again in migration 0003's ``agent_event_notice``)."""

ORDER_LOCK_NAMESPACE = 0x61676576
"""First key of the per-organization ordering lock (two int4 keys; the second is the hash of
the organization id). Two-key advisory locks never collide with single bigint keys. Spelled again
in migration 0003's trigger function, which takes the same lock at commit."""

ENVIRONMENT_KINDS: Final = frozenset({AgentEventKind.DEPLOYED, AgentEventKind.UNDEPLOYED})
"""The kinds that change what an environment serves."""

_ENVIRONMENT_NOTICE: Final = "env:"


class Event(msgspec.Struct, frozen=True):
    """What a write did, as the feed records it. ``agent_id`` is null for a release or an
    environment, which name ``release`` and ``environment`` instead; ``version`` is the agent's
    version, the release's number or the environment's revision."""

    organization_id: UUID
    agent_id: UUID | None
    version: int
    kind: AgentEventKind
    release: int | None = None
    environment: str | None = None


class StoredEvent(msgspec.Struct, frozen=True):
    """A recorded event, as read back."""

    id: int
    position: int
    organization_id: UUID
    agent_id: UUID | None
    version: int
    kind: AgentEventKind
    release: int | None
    environment: str | None
    actor_id: UUID | None
    created_at: datetime


class AgentNotice(msgspec.Struct, frozen=True):
    organization_id: UUID
    agent_id: UUID
    version: int


class EnvironmentNotice(msgspec.Struct, frozen=True):
    organization_id: UUID
    environment: str
    revision: int


def notice_of(event: Event) -> str | None:
    """The notice a change follower gets for ``event``, if any."""
    if event.agent_id is not None:
        return f"{event.organization_id}:{event.agent_id}:{event.version}"
    if event.kind in ENVIRONMENT_KINDS:
        return f"{_ENVIRONMENT_NOTICE}{event.organization_id}:{event.environment}:{event.version}"
    return None


def read_notice(payload: str) -> AgentNotice | EnvironmentNotice:
    """The change a notice stands for; ``ValueError`` for anything else."""
    if payload.startswith(_ENVIRONMENT_NOTICE):
        organization, environment, revision = payload[len(_ENVIRONMENT_NOTICE) :].split(":")
        if not environment:
            raise ValueError("a notice without an environment")
        return EnvironmentNotice(UUID(organization), environment, int(revision))
    organization, agent, version = payload.split(":")
    return AgentNotice(UUID(organization), UUID(agent), int(version))


_events = cast(Table, AgentEventRow.__table__)
STORED = RowShape(StoredEvent, _events)

_org = bindparam("e_organization_id", type_=_events.c.organization_id.type)
_INSERT = Query(
    insert(_events).values(
        organization_id=_org,
        # One more than the organization's last event, under its ordering lock (on PostgreSQL
        # at commit; the expression queues the event's notice): see the module docstring.
        position=NextEventPosition(
            _events.c.position,
            _events.c.organization_id,
            _org,
            bindparam("e_notice", type_=String()),
        ),
        agent_id=bindparam("e_agent_id"),
        version=bindparam("e_version"),
        kind=bindparam("e_kind"),
        release=bindparam("e_release", type_=Integer()),
        environment=bindparam("e_environment", type_=_events.c.environment.type),
        actor_id=bindparam("e_actor_id"),
        created_at=bindparam("e_created_at"),
    )
)
# Served by the unique index (organization_id, position). ``after_id`` resumes from a cursor
# of the first encoding (a deployment-wide id): within an organization ids grow with positions,
# so ``id > after_id`` is the same cut; it is 0 for the current encoding.
_PAGE = Query(
    select(*STORED.columns)
    .where(
        _events.c.organization_id == bindparam("organization_id"),
        _events.c.position > bindparam("after", type_=BigInteger()),
        _events.c.id > bindparam("after_id", type_=BigInteger()),
    )
    .order_by(_events.c.position)
    .limit(bindparam("limit", type_=Integer()))
)
# Every organization's events after a deployment-wide id (a change follower's poll).
_AFTER = Query(
    select(*STORED.columns)
    .where(_events.c.id > bindparam("after", type_=BigInteger()))
    .order_by(_events.c.id)
    .limit(bindparam("limit", type_=Integer()))
)
_LAST = Query(select(func.coalesce(func.max(_events.c.id), literal_column("0"))))


def _by_organization(event: Event) -> str:
    return str(event.organization_id)


class EventRepository(Repository):
    async def record(self, events: Sequence[Event], *, actor_id: UUID | None) -> None:
        """Append events in the connection's transaction: they exist if and only if the change
        commits (numbered then, on PostgreSQL). On SQLite the transaction holds the write lock
        from here on anyway; still, record events last."""
        if not events:
            return
        now = datetime.now(UTC)
        await self.conn.execute_many(
            _INSERT,
            [
                {
                    "e_organization_id": e.organization_id,
                    "e_notice": notice_of(e),
                    "e_agent_id": e.agent_id,
                    "e_version": e.version,
                    "e_kind": e.kind.value,
                    "e_release": e.release,
                    "e_environment": e.environment,
                    "e_actor_id": actor_id,
                    "e_created_at": now,
                }
                # By organization: their ordering locks are taken in one order by every writer,
                # so that two never wait for each other.
                for e in sorted(events, key=_by_organization)
            ],
        )

    async def lock_order(self, organization_id: UUID) -> None:
        """Take the organization's ordering lock now (held to the end of the transaction): from
        here on, no other writer of the organization's events commits before this one."""
        await self.conn.lock(ORDER_LOCK_NAMESPACE, [str(organization_id)])

    async def page(
        self, organization_id: UUID, *, after: int, after_id: int = 0, limit: int
    ) -> list[StoredEvent]:
        """The organization's events after position ``after`` (and after the deployment-wide
        id ``after_id``), oldest first."""
        return await STORED.many(
            self.conn,
            _PAGE,
            {
                "organization_id": organization_id,
                "after": after,
                "after_id": after_id,
                "limit": limit,
            },
        )

    async def after(self, event_id: int, limit: int) -> list[StoredEvent]:
        """Every organization's events after the deployment-wide id ``event_id``, oldest first."""
        return await STORED.many(self.conn, _AFTER, {"after": event_id, "limit": limit})

    async def last_id(self) -> int:
        row = await self.conn.fetchrow(_LAST, {})
        return int(row[0]) if row else 0
