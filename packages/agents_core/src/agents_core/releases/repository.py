"""The releases aggregate's statements: releases, their members, their pinned configurations.

Every statement takes the organization. A release's members are ``(agent_id, version)`` pairs;
their names and configurations are read through :mod:`agents_core.releases.pinned`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Integer, and_, bindparam, func, insert, literal_column, select

from agents_core.db import Query, Repository, RowShape, insert_into, new_values
from agents_core.db.types import AnyOf
from agents_core.errors import AgentNotFound, ReleaseNotFound
from agents_core.releases import pinned
from agents_core.releases.closure import AgentHead
from agents_core.releases.pinned import MEMBER, PinnedMember, pinned_name, with_members
from agents_core.schemas import Release, ReleaseMember

__all__ = ["ReleasePage", "ReleaseRepository", "ReleaseRow"]

_releases = pinned.releases
_members = pinned.members
_agents = pinned.agents
_r = pinned.r
_m = pinned.m


class ReleaseRow(msgspec.Struct):
    """A release without its members."""

    id: UUID
    number: int
    message: str | None
    created_by: UUID | None
    created_at: datetime

    def with_members(self, agents: list[ReleaseMember]) -> Release:
        """The release, its members ordered by name."""
        agents.sort(key=lambda member: (member.name.lower(), str(member.agent_id)))
        return Release(**msgspec.structs.asdict(self), agents=agents)


class ReleasePage(msgspec.Struct, kw_only=True):
    items: list[Release]
    total: int


RELEASE = RowShape(ReleaseRow, _r)
INSERTED = RowShape(ReleaseRow, _releases)
LISTED = RowShape(ReleaseMember, _m, columns={"name": pinned_name()})
HEAD = RowShape(AgentHead, _agents)

_org = bindparam("organization_id", type_=_releases.c.organization_id.type)
_in_org = _r.c.organization_id == _org

# Every active agent's current version and handoff targets, share-locked until the release
# commits: no agent can change or be deleted meanwhile, so the release holds what is current
# when it commits, and the feed shows it after every change it includes.
_ACTIVE_HEADS = Query(
    select(*HEAD.columns)
    .where(_agents.c.organization_id == _org, _agents.c.is_active.is_(True))
    .order_by(_agents.c.id)
    .with_for_update(read=True)
)

_new_org = bindparam("new_organization_id", type_=_releases.c.organization_id.type)
# The number is read in the insert, under the organization's ordering lock (see the service).
_INSERT = Query(
    insert_into(
        _releases,
        ("id", "organization_id", "message", "created_by"),
        number=select(
            func.coalesce(func.max(_releases.c.number), literal_column("0")) + literal_column("1")
        )
        .where(_releases.c.organization_id == _new_org)
        .scalar_subquery(),
    ).returning(*INSERTED.columns)
)
_INSERT_MEMBER = Query(
    insert(_members).values(
        release_id=bindparam("release_id"),
        agent_id=bindparam("agent_id"),
        version=bindparam("version", type_=Integer()),
    )
)

_PAGE = Query(
    select(*RELEASE.columns, func.count().over().label("total"))
    .where(_in_org)
    .order_by(_r.c.number.desc())
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)
_COUNT = Query(select(func.count()).select_from(_r).where(_in_org))

_listed_from = with_members(_r, _m.c.release_id == _r.c.id)
# A release always has members: inner joins give each release at least one row.
_RELEASES_BY_ID = Query(
    select(*RELEASE.columns, *LISTED.columns)
    .select_from(_listed_from)
    .where(AnyOf(_r.c.id, "release_ids"))
)
_RELEASES_BY_NUMBER = Query(
    select(*RELEASE.columns, *LISTED.columns)
    .select_from(_listed_from)
    .where(_in_org, AnyOf(_r.c.number, "numbers", Integer()))
)

# A member's pinned configuration. The outer join tells a missing release (no row) from an
# agent that is not a member (a row whose member columns are NULL).
_MEMBER = Query(
    select(_r.c.number, *MEMBER.columns)
    .select_from(
        with_members(
            _r,
            and_(_m.c.release_id == _r.c.id, _m.c.agent_id == bindparam("agent_id")),
            outer=True,
        )
    )
    .where(_in_org, _r.c.number == bindparam("number", type_=Integer()))
)
_PINNED = Query(
    select(_r.c.number, *MEMBER.columns)
    .select_from(_listed_from)
    .where(
        _in_org,
        AnyOf(_r.c.number, "numbers", Integer()),
        AnyOf(_m.c.agent_id, "agent_ids"),
    )
)


def _members_by_release(rows: Sequence[Sequence[Any]]) -> dict[UUID, Release]:
    """Rows of release columns then member columns, grouped into releases."""
    found: dict[UUID, tuple[ReleaseRow, list[ReleaseMember]]] = {}
    width = len(RELEASE.fields)
    for row in rows:
        release = RELEASE(row)
        entry = found.get(release.id)
        if entry is None:
            entry = found[release.id] = (release, [])
        entry[1].append(LISTED(tuple(row)[width:]))
    return {release_id: row.with_members(agents) for release_id, (row, agents) in found.items()}


class ReleaseRepository(Repository):
    async def active_heads(self, organization_id: UUID) -> dict[UUID, AgentHead]:
        """Every active agent of the organization, share-locked until the transaction ends."""
        heads = await HEAD.many(self.conn, _ACTIVE_HEADS, {"organization_id": organization_id})
        return {head.id: head for head in heads}

    async def insert(
        self,
        organization_id: UUID,
        release_id: UUID,
        *,
        message: str | None,
        created_by: UUID | None,
        members: Mapping[UUID, int],
        now: datetime,
    ) -> ReleaseRow:
        """A new release numbered one after the organization's last, with its members. Call
        with the organization's ordering lock held, so that concurrent releases never take the
        same number and a number is never skipped."""
        row = await self.conn.fetchrow(
            _INSERT,
            new_values(
                now,
                id=release_id,
                organization_id=organization_id,
                message=message,
                created_by=created_by,
            ),
        )
        assert row is not None
        await self.conn.execute_many(
            _INSERT_MEMBER,
            [
                {"release_id": release_id, "agent_id": agent_id, "version": version}
                for agent_id, version in sorted(members.items())
            ],
        )
        return INSERTED(row)

    async def page(self, organization_id: UUID, *, limit: int, offset: int) -> ReleasePage:
        """Releases newest first, with their members, and how many there are."""
        params = {"organization_id": organization_id, "limit": limit, "offset": offset}
        rows = await self.conn.fetch(_PAGE, params)
        if not rows:
            count = await self.conn.fetchrow(_COUNT, params) if offset else None
            return ReleasePage(items=[], total=int(count[0]) if count else 0)
        found = RELEASE.all(rows)
        by_id = _members_by_release(
            await self.conn.fetch(_RELEASES_BY_ID, {"release_ids": [r.id for r in found]})
        )
        return ReleasePage(items=[by_id[r.id] for r in found], total=rows[0][-1])

    async def by_numbers(self, organization_id: UUID, numbers: Sequence[int]) -> dict[int, Release]:
        """The releases of these numbers, with their members; :class:`ReleaseNotFound` unless
        every one exists."""
        rows = await self.conn.fetch(
            _RELEASES_BY_NUMBER, {"organization_id": organization_id, "numbers": list(numbers)}
        )
        found = {release.number: release for release in _members_by_release(rows).values()}
        if any(number not in found for number in numbers):
            raise ReleaseNotFound()
        return found

    async def member(self, organization_id: UUID, number: int, agent_id: UUID) -> PinnedMember:
        """The agent's pinned row in release ``number``: :class:`ReleaseNotFound` when there is
        no such release, :class:`AgentNotFound` when the agent is not a member. One round
        trip."""
        row = await self.conn.fetchrow(
            _MEMBER, {"organization_id": organization_id, "number": number, "agent_id": agent_id}
        )
        if row is None:
            raise ReleaseNotFound()
        rest = tuple(row)[1:]
        if rest[MEMBER.fields.index("agent_id")] is None:
            raise AgentNotFound("The agent is not in this release")
        return MEMBER(rest)

    async def pinned(
        self, organization_id: UUID, numbers: Sequence[int], agent_ids: Sequence[UUID]
    ) -> dict[tuple[int, UUID], PinnedMember]:
        """The pinned rows of these agents in these releases, by (release number, agent)."""
        if not agent_ids:
            return {}
        rows = await self.conn.fetch(
            _PINNED,
            {
                "organization_id": organization_id,
                "numbers": list(numbers),
                "agent_ids": list(agent_ids),
            },
        )
        found: dict[tuple[int, UUID], PinnedMember] = {}
        for row in rows:
            member = MEMBER(tuple(row)[1:])
            found[(row[0], member.agent_id)] = member
        return found
