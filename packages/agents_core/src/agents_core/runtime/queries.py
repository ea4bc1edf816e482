"""The catalog's reads: one round trip each.

The handoff graph walks an array column (``uuid[]`` on PostgreSQL, a JSON array of strings on
SQLite) with a recursive CTE. Expanding an array inside a recursive step is spelled differently
by the two databases (``unnest`` vs ``json_each``, and SQLite stores ids as 16-byte blobs but
handoff targets as text), so each query here has one SQL text per dialect, side by side (one
:class:`Query` with its PostgreSQL form), with the same parameters and the same result columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import JSON, Integer, bindparam, column, text
from sqlalchemy.sql.elements import TextClause

from agents_core.agents.queries import MODALITIES, PANELS
from agents_core.db.database import Connection, Query
from agents_core.db.models import Agent
from agents_core.db.types import JSONDocument
from agents_core.errors import AgentNotFound, VersionNotFound
from agents_core.runtime.definitions import AgentDefinition, AgentGraph, Handoff
from agents_core.schemas import AgentSnapshot

__all__ = ["LoadedDefinition", "load_definition", "load_graph"]


_table = Agent.__table__
_AGENT_COLUMNS = (
    "id",
    "organization_id",
    "name",
    "instructions",
    "model",
    "voice",
    "handoff_targets",
    "tools",
    "modality",
    "panels",
    "current_version",
)
_SELECT_AGENT = ", ".join(f"a.{name}" for name in _AGENT_COLUMNS)
_RESULT_TYPES = tuple(_table.c[name] for name in _AGENT_COLUMNS)


def _typed(sql: str, *extra: Any) -> TextClause:
    """A text statement with typed parameters and result columns (SQLAlchemy converts them on
    SQLite; asyncpg gets native values on PostgreSQL)."""
    return (
        text(sql)
        .bindparams(
            bindparam("organization_id", type_=_table.c.organization_id.type),
            bindparam("agent_id", type_=_table.c.id.type),
        )
        .columns(*_RESULT_TYPES, *extra)  # type: ignore[return-value]
    )


# -- one agent, live or at a version ---------------------------------------------------------------
#
# The agent row, the saved version asked for (none when ``version`` is NULL) and the current names
# of the handoff targets of both, as a JSON object ``{target id: name}``.

_DEFINITION_PG = f"""
SELECT {_SELECT_AGENT}, v.snapshot,
  (SELECT jsonb_object_agg(t.id, t.name) FROM agents AS t
    WHERE t.organization_id = a.organization_id AND t.is_active
      AND (t.id = ANY(a.handoff_targets)
           OR t.id = ANY(ARRAY(
             SELECT CAST(jsonb_array_elements_text(v.snapshot -> 'handoff_targets') AS uuid))))
  ) AS target_names
FROM agents AS a
LEFT JOIN agent_versions AS v ON v.agent_id = a.id AND v.version = CAST(:version AS integer)
WHERE a.id = :agent_id AND a.organization_id = :organization_id AND a.is_active
"""  # noqa: S608 - fixed SQL, every value is a bound parameter

_DEFINITION_SQLITE = f"""
SELECT {_SELECT_AGENT}, v.snapshot,
  (SELECT json_group_object(lower(hex(t.id)), t.name) FROM agents AS t
    WHERE t.organization_id = a.organization_id AND t.is_active
      AND lower(hex(t.id)) IN (
        SELECT replace(value, '-', '') FROM json_each(a.handoff_targets)
        UNION SELECT replace(value, '-', '') FROM json_each(v.snapshot, '$.handoff_targets'))
  ) AS target_names
FROM agents AS a
LEFT JOIN agent_versions AS v ON v.agent_id = a.id AND v.version = :version
WHERE a.id = :agent_id AND a.organization_id = :organization_id AND a.is_active
"""  # noqa: S608 - fixed SQL, every value is a bound parameter

_extra = (column("snapshot", JSONDocument), column("target_names", JSON()))
_version = bindparam("version", type_=Integer())
_DEFINITION = Query(
    _typed(_DEFINITION_SQLITE, *_extra).bindparams(_version),
    pg=_typed(_DEFINITION_PG, *_extra).bindparams(_version),
)

# -- the handoff graph -----------------------------------------------------------------------------
#
# ``UNION`` (not ``UNION ALL``) makes the walk stop at agents already reached: cycles end. Only
# active agents of the organization are expanded and returned.

_GRAPH_PG = f"""
WITH RECURSIVE reach(id) AS (
    SELECT CAST(:agent_id AS uuid)
  UNION
    SELECT t.id FROM reach
    JOIN agents AS a ON a.id = reach.id
    CROSS JOIN LATERAL unnest(a.handoff_targets) AS t(id)
    WHERE a.organization_id = :organization_id AND a.is_active
)
SELECT {_SELECT_AGENT} FROM agents AS a
WHERE a.id IN (SELECT id FROM reach) AND a.organization_id = :organization_id AND a.is_active
"""  # noqa: S608 - fixed SQL, every value is a bound parameter

_GRAPH_SQLITE = f"""
WITH RECURSIVE reach(k) AS (
    SELECT lower(hex(:agent_id))
  UNION
    SELECT replace(j.value, '-', '') FROM reach
    JOIN agents AS a ON lower(hex(a.id)) = reach.k
    JOIN json_each(a.handoff_targets) AS j
    WHERE a.organization_id = :organization_id AND a.is_active
)
SELECT {_SELECT_AGENT} FROM agents AS a
WHERE lower(hex(a.id)) IN (SELECT k FROM reach)
  AND a.organization_id = :organization_id AND a.is_active
"""  # noqa: S608 - fixed SQL, every value is a bound parameter

_GRAPH = Query(_typed(_GRAPH_SQLITE), pg=_typed(_GRAPH_PG))


def _json(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return msgspec.json.decode(value)
    return value


_Config = tuple[str, str, str, str | None, Sequence[UUID], Sequence[str], str, Sequence[str]]
"""name, instructions, model, voice, handoff_targets, tools, modality, panels."""


def _live_config(row: Sequence[Any]) -> _Config:
    return (row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9])


def _snapshot_config(raw: Any) -> _Config:
    s = msgspec.convert(_json(raw), AgentSnapshot)
    return (
        s.name,
        s.instructions,
        s.model,
        s.voice,
        s.handoff_targets,
        s.tools,
        s.modality.value,
        [p.value for p in s.panels],
    )


def _definition(
    row: Sequence[Any], version: int, config: _Config, names: Mapping[UUID, str]
) -> AgentDefinition:
    name, instructions, model, voice, targets, tools, modality, panels = config
    return AgentDefinition(
        id=row[0],
        organization_id=row[1],
        version=version,
        name=name,
        instructions=instructions,
        model=model,
        voice=voice,
        tools=tuple(tools),
        modality=MODALITIES[modality],
        panels=tuple(PANELS[p] for p in panels),
        # A target deleted since a saved version was made is left out: nobody can take a call.
        handoffs=tuple(Handoff(agent_id=t, name=names[t]) for t in targets if t in names),
    )


class LoadedDefinition(msgspec.Struct, frozen=True):
    definition: AgentDefinition
    depends_on: frozenset[UUID]
    """The agents whose change can change this definition: itself and its handoff targets."""


async def load_definition(
    conn: Connection, organization_id: UUID, agent_id: UUID, version: int | None = None
) -> LoadedDefinition:
    """The active agent, live (``version`` is ``None`` or its current version) or as saved at
    ``version``, with its handoff targets' names. One round trip."""
    row = await conn.fetchrow(
        _DEFINITION,
        {"organization_id": organization_id, "agent_id": agent_id, "version": version},
    )
    if row is None:
        raise AgentNotFound()
    current = row[10]
    names = {UUID(str(key)): name for key, name in (_json(row[12]) or {}).items()}
    if version is None or version == current:
        definition = _definition(row, current, _live_config(row), names)
    elif row[11] is None:
        raise VersionNotFound()
    else:
        definition = _definition(row, version, _snapshot_config(row[11]), names)
    return LoadedDefinition(
        definition, frozenset((agent_id, *(h.agent_id for h in definition.handoffs)))
    )


async def load_graph(conn: Connection, organization_id: UUID, entry_id: UUID) -> AgentGraph:
    """The entry agent and every active agent reachable from it. One round trip."""
    rows = await conn.fetch(_GRAPH, {"organization_id": organization_id, "agent_id": entry_id})
    names = {row[0]: row[2] for row in rows}
    if entry_id not in names:
        raise AgentNotFound()
    definitions = {row[0]: _definition(row, row[10], _live_config(row), names) for row in rows}
    entry = definitions.pop(entry_id)
    ordered = {entry_id: entry}
    for definition in sorted(definitions.values(), key=lambda d: (d.name.lower(), str(d.id))):
        ordered[definition.id] = definition
    return AgentGraph(entry=entry, agents=MappingProxyType(ordered))
