"""The catalog's statements: one agent (live or at a version) and a handoff graph, one round
trip each, on either database (the handoff arrays are walked with the portable constructs of
:mod:`agents_core.db.types`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import Integer, Table, and_, bindparam, select
from sqlalchemy.orm import aliased

from agents_core.db import Query, Repository, RowShape
from agents_core.db.models import Agent, AgentVersion
from agents_core.db.types import ArrayContains, JsonIdList, JsonObjectAgg
from agents_core.errors import AgentNotFound, VersionNotFound
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, Handoff
from agents_core.schemas import CONFIG_FIELDS, AgentConfig

__all__ = ["CatalogRepository", "LoadedDefinition"]


class _LiveAgent(AgentConfig):
    """An active agent's row as the catalog reads it."""

    id: UUID
    organization_id: UUID
    current_version: int


class _DefinitionRow(_LiveAgent):
    """The agent, the version asked for (if saved), and the current names of the handoff
    targets of both."""

    snapshot: AgentConfig | None
    target_names: dict[str, str] | None


_agents = cast(Table, Agent.__table__)
_versions = cast(Table, AgentVersion.__table__)
_a = _agents.alias("a")
_t = _agents.alias("t")
_v = _versions.alias("v")
_org = bindparam("organization_id", type_=_agents.c.organization_id.type)
_entry = bindparam("agent_id", type_=_agents.c.id.type)

_target_names = (
    select(JsonObjectAgg(_t.c.id, _t.c.name))
    .where(
        _t.c.organization_id == _a.c.organization_id,
        _t.c.is_active.is_(True),
        ArrayContains(_a.c.handoff_targets, _t.c.id)
        | ArrayContains(JsonIdList(_v.c.snapshot, "handoff_targets"), _t.c.id),
    )
    .scalar_subquery()
)
DEFINITION = RowShape(
    _DefinitionRow, _a, columns={"snapshot": _v.c.snapshot, "target_names": _target_names}
)
_DEFINITION = Query(
    select(*DEFINITION.columns)
    .select_from(_a)
    .outerjoin(
        _v,
        and_(_v.c.agent_id == _a.c.id, _v.c.version == bindparam("version", type_=Integer())),
    )
    .where(_a.c.id == _entry, _a.c.organization_id == _org, _a.c.is_active.is_(True))
)

# The handoff graph: ``UNION`` (not ``UNION ALL``) stops the walk at agents already reached, so
# cycles end. Only active agents of the organization are expanded and returned.
_reach = select(_entry.label("id")).cte("reach", recursive=True)
_from = aliased(_agents, name="f")
_reach = _reach.union(
    select(_t.c.id)
    .select_from(_reach)
    .join(_from, _from.c.id == _reach.c.id)
    .join(_t, ArrayContains(_from.c.handoff_targets, _t.c.id))
    .where(
        _from.c.organization_id == _org,
        _from.c.is_active.is_(True),
        _t.c.organization_id == _org,
        _t.c.is_active.is_(True),
    )
)
LIVE = RowShape(_LiveAgent, _a)
_GRAPH = Query(
    select(*LIVE.columns).where(
        _a.c.id.in_(select(_reach.c.id)),
        _a.c.organization_id == _org,
        _a.c.is_active.is_(True),
    )
)


def _definition(
    agent: _LiveAgent, version: int, config: AgentConfig, names: Mapping[UUID, str]
) -> AgentDefinition:
    targets = [t for t in config.handoff_targets if t in names]
    values: dict[str, Any] = {name: getattr(config, name) for name in CONFIG_FIELDS}
    values["handoff_targets"] = targets
    return AgentDefinition(
        **values,
        id=agent.id,
        organization_id=agent.organization_id,
        version=version,
        handoffs=tuple(Handoff(agent_id=t, name=names[t]) for t in targets),
    )


class LoadedDefinition(msgspec.Struct, frozen=True):
    definition: AgentDefinition
    depends_on: frozenset[UUID]
    """The agents whose change can change this definition: itself and its handoff targets."""


class CatalogRepository(Repository):
    async def definition(
        self, organization_id: UUID, agent_id: UUID, version: int | None = None
    ) -> LoadedDefinition:
        """The active agent, live (``version`` is ``None`` or its current version) or as saved
        at ``version``, with its handoff targets' names. One round trip."""
        found = await DEFINITION.one(
            self.conn,
            _DEFINITION,
            {"organization_id": organization_id, "agent_id": agent_id, "version": version},
        )
        if found is None:
            raise AgentNotFound()
        names = {UUID(key): name for key, name in (found.target_names or {}).items()}
        if version is None or version == found.current_version:
            definition = _definition(found, found.current_version, found, names)
        elif found.snapshot is None:
            raise VersionNotFound()
        else:
            definition = _definition(found, version, found.snapshot, names)
        return LoadedDefinition(definition, frozenset((agent_id, *definition.handoff_targets)))

    async def graph(self, organization_id: UUID, entry_id: UUID) -> AgentGraph:
        """The entry agent and every active agent reachable from it. One round trip."""
        agents = await LIVE.many(
            self.conn, _GRAPH, {"organization_id": organization_id, "agent_id": entry_id}
        )
        names = {agent.id: agent.name for agent in agents}
        if entry_id not in names:
            raise AgentNotFound()
        definitions = {
            agent.id: _definition(agent, agent.current_version, agent, names) for agent in agents
        }
        entry = definitions.pop(entry_id)
        ordered = {entry_id: entry}
        for definition in sorted(definitions.values(), key=lambda d: (d.name.lower(), str(d.id))):
            ordered[definition.id] = definition
        return AgentGraph(entry=entry, agents=MappingProxyType(ordered))
