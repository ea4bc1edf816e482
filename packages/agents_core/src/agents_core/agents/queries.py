"""Agent reads: each query defined once (SQLAlchemy Core), run on a :class:`Connection`.

On PostgreSQL they run straight on the asyncpg connection; rows go into the msgspec wire types
with no ORM in between. Every query takes the organization: another organization's rows are
never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import Integer, String, and_, bindparam, func, or_, select
from sqlalchemy.sql.elements import BindParameter

from agents_core.db.database import Connection, Query
from agents_core.db.models import Agent, AgentVersion
from agents_core.db.types import ArrayContains
from agents_core.errors import AgentNotFound, VersionNotFound
from agents_core.schemas import (
    AgentModality,
    AgentPublic,
    AgentSnapshot,
    AgentVersionPublic,
    PanelType,
)

__all__ = [
    "MODALITIES",
    "PANELS",
    "AgentPage",
    "agent_from_row",
    "escape_like",
    "get_agent",
    "get_version",
    "list_agents",
    "list_versions",
]

AGENT_COLUMNS = (
    Agent.id,
    Agent.organization_id,
    Agent.name,
    Agent.instructions,
    Agent.model,
    Agent.voice,
    Agent.handoff_targets,
    Agent.tools,
    Agent.modality,
    Agent.panels,
    Agent.is_active,
    Agent.current_version,
    Agent.created_at,
    Agent.updated_at,
)

MODALITIES = {m.value: m for m in AgentModality}
"""Stored modality value → enum member (a dict lookup is cheaper than the enum call per row)."""
PANELS = {p.value: p for p in PanelType}
"""Stored panel value → enum member."""


def agent_from_row(row: Sequence[Any]) -> AgentPublic:
    """An :class:`AgentPublic` from a row of :data:`AGENT_COLUMNS` (positional).

    Array columns arrive as fresh lists from both drivers: they are used as they are.
    """
    return AgentPublic(
        id=row[0],
        organization_id=row[1],
        name=row[2],
        instructions=row[3],
        model=row[4],
        voice=row[5],
        handoff_targets=row[6],
        tools=row[7],
        modality=MODALITIES[row[8]],
        panels=[PANELS[p] for p in row[9]],
        is_active=row[10],
        current_version=row[11],
        created_at=row[12],
        updated_at=row[13],
    )


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


_org: BindParameter[UUID] = bindparam("organization_id")

_GET = Query(
    select(*AGENT_COLUMNS).where(
        Agent.id == bindparam("agent_id"),
        Agent.organization_id == _org,
        Agent.is_active.is_(True),
    )
)

# One statement serves every combination of filters: an absent filter is bound as NULL. The
# window count gives the total matching rows in the same round trip.
_q = bindparam("q_pattern", type_=String())
_modality = bindparam("modality", type_=String())
_tool = bindparam("tool", type_=String())
_LIST = Query(
    select(*AGENT_COLUMNS, func.count().over().label("total"))
    .where(
        Agent.organization_id == _org,
        Agent.is_active.is_(True),
        or_(_q.is_(None), func.lower(Agent.name).like(_q, escape="\\")),
        or_(_modality.is_(None), Agent.modality == _modality),
        or_(_tool.is_(None), ArrayContains(Agent.tools, _tool)),
    )
    .order_by(Agent.created_at.desc(), Agent.id.desc())
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)
_COUNT = Query(
    select(func.count())
    .select_from(Agent)
    .where(
        Agent.organization_id == _org,
        Agent.is_active.is_(True),
        or_(_q.is_(None), func.lower(Agent.name).like(_q, escape="\\")),
        or_(_modality.is_(None), Agent.modality == _modality),
        or_(_tool.is_(None), ArrayContains(Agent.tools, _tool)),
    )
)

_VERSION_COLUMNS = (
    AgentVersion.id,
    AgentVersion.version,
    AgentVersion.snapshot,
    AgentVersion.created_at,
    AgentVersion.created_by,
)

# Agent LEFT JOIN its versions: no row means no such agent; one row with NULLs means an agent
# without (that) version. One round trip either way.
_VERSIONS = Query(
    select(Agent.id, *_VERSION_COLUMNS)
    .select_from(Agent)
    .outerjoin(AgentVersion, AgentVersion.agent_id == Agent.id)
    .where(
        Agent.id == bindparam("agent_id"),
        Agent.organization_id == _org,
        Agent.is_active.is_(True),
    )
    .order_by(AgentVersion.version.desc())
)
_VERSION = Query(
    select(Agent.id, *_VERSION_COLUMNS)
    .select_from(Agent)
    .outerjoin(
        AgentVersion,
        and_(
            AgentVersion.agent_id == Agent.id,
            AgentVersion.version == bindparam("version", type_=Integer()),
        ),
    )
    .where(
        Agent.id == bindparam("agent_id"),
        Agent.organization_id == _org,
        Agent.is_active.is_(True),
    )
)


class AgentPage(msgspec.Struct, kw_only=True):
    items: list[AgentPublic]
    total: int


async def get_agent(conn: Connection, organization_id: UUID, agent_id: UUID) -> AgentPublic:
    row = await conn.fetchrow(_GET, {"organization_id": organization_id, "agent_id": agent_id})
    if row is None:
        raise AgentNotFound()
    return agent_from_row(row)


async def list_agents(
    conn: Connection,
    organization_id: UUID,
    *,
    limit: int = 100,
    offset: int = 0,
    q: str | None = None,
    modality: AgentModality | None = None,
    tool: str | None = None,
) -> AgentPage:
    """Active agents, newest first, with the number matching before limit and offset."""
    params = {
        "organization_id": organization_id,
        "q_pattern": None if q is None else f"%{escape_like(q.lower())}%",
        "modality": None if modality is None else modality.value,
        "tool": tool,
        "limit": limit,
        "offset": offset,
    }
    rows = await conn.fetch(_LIST, params)
    if rows:
        return AgentPage(items=[agent_from_row(row) for row in rows], total=rows[0][-1])
    if offset == 0:
        return AgentPage(items=[], total=0)
    # Past the end: the window count saw no rows, so count separately (rare).
    count = await conn.fetchrow(_COUNT, params)
    return AgentPage(items=[], total=int(count[0]) if count else 0)


def _version_from_row(agent_id: UUID, row: Sequence[Any]) -> AgentVersionPublic:
    snapshot = row[3]
    if isinstance(snapshot, str | bytes):
        snapshot = msgspec.json.decode(snapshot)
    return AgentVersionPublic(
        id=row[1],
        agent_id=agent_id,
        version=row[2],
        snapshot=msgspec.convert(snapshot, AgentSnapshot),
        created_at=row[4],
        created_by=row[5],
    )


async def list_versions(
    conn: Connection, organization_id: UUID, agent_id: UUID
) -> list[AgentVersionPublic]:
    """The agent's versions, newest first."""
    rows = await conn.fetch(_VERSIONS, {"organization_id": organization_id, "agent_id": agent_id})
    if not rows:
        raise AgentNotFound()
    return [_version_from_row(agent_id, row) for row in rows if row[1] is not None]


async def get_version(
    conn: Connection, organization_id: UUID, agent_id: UUID, version: int
) -> AgentVersionPublic:
    row = await conn.fetchrow(
        _VERSION, {"organization_id": organization_id, "agent_id": agent_id, "version": version}
    )
    if row is None:
        raise AgentNotFound()
    if row[1] is None:
        raise VersionNotFound()
    return _version_from_row(agent_id, row)
