"""The catalog's statements: one agent (live, at a version, or as released) and a handoff graph
(live or as released), one round trip each, on either database (the handoff arrays are walked
with the portable constructs of :mod:`agents_core.db.types`).

Released agents are read as :mod:`agents_core.releases.pinned` says (the agent's row while it
is at the pinned version, its saved snapshot afterwards). Through an environment, the same
round trip also reads what the environment serves (its release and canary), and the agent (or
the graph) comes back for each release it serves: either side of a canary is then cached.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, Generic, TypeVar, cast
from uuid import UUID

import msgspec
from sqlalchemy import Integer, Table, and_, bindparam, case, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import CTE, Select

from agents_core.db import Query, Repository, RowShape
from agents_core.db.models import Agent, AgentVersion
from agents_core.db.types import ArrayContains, JsonIdList, JsonObjectAgg
from agents_core.environments import repository as environment_statements
from agents_core.environments.repository import SERVING, EnvironmentRepository, serves
from agents_core.environments.routing import Serving
from agents_core.errors import AgentNotFound, EnvironmentNotFound, VersionNotFound
from agents_core.releases import pinned
from agents_core.releases.pinned import (
    MEMBER,
    MEMBER_NAMED,
    PinnedMember,
    PinnedMemberNamed,
    with_members,
)
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, Handoff
from agents_core.schemas import CONFIG_FIELDS, AgentConfig

__all__ = [
    "CatalogRepository",
    "LoadedDefinition",
    "Served",
    "ServedDefinitions",
    "ServedGraphs",
]

T = TypeVar("T")


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


# -- released agents and graphs ---------------------------------------------------------------

_r = pinned.r
_m = pinned.m
_number = bindparam("number", type_=Integer())
_environment = bindparam("name", type_=environment_statements.environments.c.name.type)

_RELEASED = Query(
    select(*MEMBER_NAMED.columns)
    .select_from(with_members(_r, and_(_m.c.release_id == _r.c.id, _m.c.agent_id == _entry)))
    .where(_r.c.organization_id == _org, _r.c.number == _number)
)


def _released_reach(seed: Select[Any]) -> CTE:
    """Each seeded release's members reached from the entry agent, following the handoff
    targets of the configuration each is pinned at; ``UNION`` stops at members already
    reached."""
    reach = seed.cte("reach", recursive=True)
    fm = pinned.members.alias("fm")
    fa = pinned.agents.alias("fa")
    fv = pinned.versions.alias("fv")
    tm = pinned.members.alias("tm")
    targets = case(
        (fv.c.snapshot.is_(None), fa.c.handoff_targets),
        else_=JsonIdList(fv.c.snapshot, "handoff_targets"),
    )
    step = select(reach.c.release_id, tm.c.agent_id).select_from(
        reach.join(
            fm, and_(fm.c.release_id == reach.c.release_id, fm.c.agent_id == reach.c.agent_id)
        )
        .join(fa, fa.c.id == fm.c.agent_id)
        .outerjoin(fv, and_(fv.c.agent_id == fm.c.agent_id, fv.c.version == fm.c.version))
        .join(
            tm, and_(tm.c.release_id == reach.c.release_id, ArrayContains(targets, tm.c.agent_id))
        )
    )
    return reach.union(step)


def _reached(reach: CTE) -> Any:
    return and_(_m.c.release_id == reach.c.release_id, _m.c.agent_id == reach.c.agent_id)


_sr = pinned.releases.alias("sr")
_se = environment_statements.environments.alias("se")

_by_number = _released_reach(
    select(_sr.c.id.label("release_id"), _entry.label("agent_id")).where(
        _sr.c.organization_id == _org, _sr.c.number == _number
    )
)
_RELEASE_GRAPH = Query(
    select(*MEMBER.columns).select_from(with_members(_by_number, _reached(_by_number)))
)

_e = environment_statements.e
_by_environment = _released_reach(
    select(_sr.c.id.label("release_id"), _entry.label("agent_id"))
    .select_from(_se.join(_sr, serves(_se, _sr)))
    .where(_se.c.organization_id == _org, _se.c.name == _environment)
)
# One row per member reached in each release the environment serves (member columns NULL for a
# release the entry agent is not in); no row when there is no such environment.
_ENVIRONMENT_GRAPH = Query(
    select(*SERVING.columns, _r.c.number, *MEMBER.columns)
    .select_from(
        with_members(
            _e.join(_r, serves(_e, _r)).outerjoin(
                _by_environment, _by_environment.c.release_id == _r.c.id
            ),
            _reached(_by_environment),
            outer=True,
        )
    )
    .where(_e.c.organization_id == _org, _e.c.name == _environment)
)
_SERVING_WIDTH = len(SERVING.fields)
_MEMBER_AT = _SERVING_WIDTH + 1 + MEMBER.fields.index("agent_id")


def _definition(
    agent_id: UUID,
    organization_id: UUID,
    version: int,
    config: AgentConfig,
    names: Mapping[UUID, str],
    release: int | None = None,
) -> AgentDefinition:
    targets = [t for t in config.handoff_targets if t in names]
    values: dict[str, Any] = {name: getattr(config, name) for name in CONFIG_FIELDS}
    values["handoff_targets"] = targets
    return AgentDefinition(
        **values,
        id=agent_id,
        organization_id=organization_id,
        version=version,
        handoffs=tuple(Handoff(agent_id=t, name=names[t]) for t in targets),
        release=release,
    )


def _released_definition(
    organization_id: UUID, release: int, member: PinnedMemberNamed
) -> AgentDefinition:
    """An agent as ``release`` pins it, its handoff targets named as the release names them."""
    return _definition(
        member.agent_id,
        organization_id,
        member.version,
        member.pinned(),
        member.handoff_names(),
        release,
    )


def _ordered(
    entry_id: UUID, definitions: dict[UUID, AgentDefinition], release: int | None = None
) -> AgentGraph:
    """The graph: the entry agent first, the others by name."""
    if entry_id not in definitions:
        raise AgentNotFound()
    entry = definitions.pop(entry_id)
    ordered = {entry_id: entry}
    for definition in sorted(definitions.values(), key=lambda d: (d.name.lower(), str(d.id))):
        ordered[definition.id] = definition
    return AgentGraph(entry=entry, agents=MappingProxyType(ordered), release=release)


def _release_graph(
    organization_id: UUID, release: int, entry_id: UUID, members: Sequence[PinnedMember]
) -> AgentGraph:
    """A release's graph from its members reached from the entry agent. The release is closed
    under handoff: every target is among them."""
    configs = {member.agent_id: member.pinned() for member in members}
    names = {agent_id: config.name for agent_id, config in configs.items()}
    definitions = {
        member.agent_id: _definition(
            member.agent_id,
            organization_id,
            member.version,
            configs[member.agent_id],
            names,
            release,
        )
        for member in members
    }
    return _ordered(entry_id, definitions, release)


class Served(msgspec.Struct, Generic[T], frozen=True):
    """What an environment serves, and what was asked for (an agent, a graph) as each of its
    releases pins it (absent from a release the agent is not in)."""

    serving: Serving
    by_release: dict[int, T]


ServedDefinitions = Served[AgentDefinition]
ServedGraphs = Served[AgentGraph]


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
        found = await DEFINITION.get(
            self.conn,
            _DEFINITION,
            {"organization_id": organization_id, "agent_id": agent_id, "version": version},
            AgentNotFound,
        )
        names = {UUID(key): name for key, name in (found.target_names or {}).items()}
        if version is None or version == found.current_version:
            config, version = found.config(), found.current_version
        elif found.snapshot is None:
            raise VersionNotFound()
        else:
            config = found.snapshot
        definition = _definition(agent_id, found.organization_id, version, config, names)
        return LoadedDefinition(definition, frozenset((agent_id, *definition.handoff_targets)))

    async def graph(self, organization_id: UUID, entry_id: UUID) -> AgentGraph:
        """The entry agent and every active agent reachable from it. One round trip."""
        agents = await LIVE.many(
            self.conn, _GRAPH, {"organization_id": organization_id, "agent_id": entry_id}
        )
        names = {agent.id: agent.name for agent in agents}
        return _ordered(
            entry_id,
            {
                agent.id: _definition(
                    agent.id, organization_id, agent.current_version, agent, names
                )
                for agent in agents
            },
        )

    async def released(
        self, organization_id: UUID, release: int, agent_id: UUID
    ) -> AgentDefinition:
        """The agent as release ``release`` pins it. One round trip."""
        member = await MEMBER_NAMED.get(
            self.conn,
            _RELEASED,
            {"organization_id": organization_id, "number": release, "agent_id": agent_id},
            AgentNotFound,
        )
        return _released_definition(organization_id, release, member)

    async def served_definitions(
        self, organization_id: UUID, environment: str, agent_id: UUID
    ) -> ServedDefinitions:
        """What the environment serves, and the agent in each release it serves. One round
        trip (the statement the API's resolve route runs)."""
        served = await EnvironmentRepository(self.conn).serving(
            organization_id, environment, agent_id
        )
        return Served(
            served.serving,
            {
                release: _released_definition(organization_id, release, member)
                for release, member in served.members.items()
            },
        )

    async def release_graph(
        self, organization_id: UUID, release: int, entry_id: UUID
    ) -> AgentGraph:
        """The entry agent and every member of the release reachable from it, at their pinned
        versions. One round trip."""
        members = await MEMBER.many(
            self.conn,
            _RELEASE_GRAPH,
            {"organization_id": organization_id, "number": release, "agent_id": entry_id},
        )
        return _release_graph(organization_id, release, entry_id, members)

    async def served_graphs(
        self, organization_id: UUID, environment: str, entry_id: UUID
    ) -> ServedGraphs:
        """What the environment serves, and the entry agent's graph in each release it serves
        (a release the entry agent is not in has none). One round trip."""
        rows = await self.conn.fetch(
            _ENVIRONMENT_GRAPH,
            {"organization_id": organization_id, "name": environment, "agent_id": entry_id},
        )
        if not rows:
            raise EnvironmentNotFound()
        members: dict[int, list[PinnedMember]] = {}
        for row in rows:
            values = tuple(row)
            found = members.setdefault(values[_SERVING_WIDTH], [])
            if values[_MEMBER_AT] is not None:
                found.append(MEMBER(values[_SERVING_WIDTH + 1 :]))
        graphs = {
            release: _release_graph(organization_id, release, entry_id, reached)
            for release, reached in members.items()
            if reached
        }
        return Served(SERVING(rows[0]), graphs)
