"""The parts every statement that reads a release member's configuration shares.

A release stores ``(agent_id, version)`` pairs. The configuration pinned at ``version`` is the
agent's own row while the agent is still at that version, and the snapshot saved when it left
it afterwards (a change saves the previous configuration as a version; agents are only ever
soft-deleted, and their versions stay). So a member is read as its pair joined to the agent's
row and to the saved version of that number, if any — one row, one round trip, on either
database — and :meth:`PinnedMember.config` picks the one that holds the pinned configuration.

Used by the releases and environments repositories and by the runtime catalog's, so that the
rule is written once.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from sqlalchemy import ColumnElement, FromClause, Table, and_, case, select
from sqlalchemy.sql.selectable import Join

from agents_core.db import RowShape
from agents_core.db.models import Agent, AgentVersion, Release, ReleaseMember
from agents_core.db.types import ArrayContains, JsonIdList, JsonObjectAgg, JsonText
from agents_core.schemas import CONFIG_FIELDS, AgentConfig, ReleasedAgent

__all__ = [
    "MEMBER",
    "MEMBER_NAMED",
    "PinnedMember",
    "PinnedMemberNamed",
    "agents",
    "members",
    "pinned_name",
    "releases",
    "versions",
    "with_members",
]

releases = cast(Table, Release.__table__)
members = cast(Table, ReleaseMember.__table__)
agents = cast(Table, Agent.__table__)
versions = cast(Table, AgentVersion.__table__)

r = releases.alias("r")
m = members.alias("m")
a = agents.alias("a")
v = versions.alias("v")


class PinnedMember(AgentConfig):
    """A release member's row: its agent's live configuration (the struct's own fields), the
    pinned version, and the snapshot saved at that version when the agent has left it."""

    agent_id: UUID
    version: int
    current_version: int
    snapshot: AgentConfig | None

    def pinned(self) -> AgentConfig:
        """The configuration pinned in the release."""
        return self.snapshot if self.snapshot is not None else self.config()

    def released(self, release: int) -> ReleasedAgent:
        """The member as ``GET /releases/{release}/agents/{id}`` shows it."""
        config = self.pinned()
        values: dict[str, Any] = {name: getattr(config, name) for name in CONFIG_FIELDS}
        return ReleasedAgent(
            **values,
            agent_id=self.agent_id,
            release=release,
            version=self.version,
        )


class PinnedMemberNamed(PinnedMember):
    """A member's row with the names (at their pinned versions) of the release's members it
    may hand off to: id (hexadecimal or dashed) → name. A superset: filter by the pinned
    configuration's targets."""

    target_names: dict[str, str] | None

    def handoff_names(self) -> dict[UUID, str]:
        return {UUID(key): name for key, name in (self.target_names or {}).items()}


def pinned_name(
    member_agents: FromClause = a, member_versions: FromClause = v
) -> ColumnElement[Any]:
    """A member's name at its pinned version."""
    return case(
        (member_versions.c.snapshot.is_(None), member_agents.c.name),
        else_=JsonText(member_versions.c.snapshot, "name"),
    )


def with_members(base: FromClause, on: ColumnElement[bool], *, outer: bool = False) -> Join:
    """``base`` joined to the members matching ``on`` (alias ``m``), their agents (``a``) and
    their saved versions at the pinned number (``v``, absent while the agent is still there).
    ``outer`` keeps ``base``'s rows that have no matching member (their member columns NULL)."""
    if outer:
        joined = base.outerjoin(m, on).outerjoin(a, a.c.id == m.c.agent_id)
    else:
        joined = base.join(m, on).join(a, a.c.id == m.c.agent_id)
    return joined.outerjoin(v, and_(v.c.agent_id == m.c.agent_id, v.c.version == m.c.version))


_m2 = members.alias("m2")
_a2 = agents.alias("a2")
_v2 = versions.alias("v2")
_target_names = (
    select(JsonObjectAgg(_m2.c.agent_id, pinned_name(_a2, _v2)))
    .select_from(
        _m2.join(_a2, _a2.c.id == _m2.c.agent_id).outerjoin(
            _v2, and_(_v2.c.agent_id == _m2.c.agent_id, _v2.c.version == _m2.c.version)
        )
    )
    .where(
        _m2.c.release_id == m.c.release_id,
        ArrayContains(a.c.handoff_targets, _m2.c.agent_id)
        | ArrayContains(JsonIdList(v.c.snapshot, "handoff_targets"), _m2.c.agent_id),
    )
    .scalar_subquery()
)

_MEMBER_COLUMNS = {"agent_id": m.c.agent_id, "version": m.c.version, "snapshot": v.c.snapshot}
MEMBER = RowShape(PinnedMember, a, columns=_MEMBER_COLUMNS)
"""A member's columns (from ``with_members``)."""
MEMBER_NAMED = RowShape(
    PinnedMemberNamed, a, columns={**_MEMBER_COLUMNS, "target_names": _target_names}
)
"""A member's columns with its handoff targets' names (for the runtime's definitions)."""
