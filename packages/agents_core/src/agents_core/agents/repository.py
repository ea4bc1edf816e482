"""The agents aggregate's statements: agents and their saved versions.

The only SQL of the aggregate. Every statement is defined once (SQLAlchemy Core) and run on a
:class:`~agents_core.db.Connection`; every one takes the organization (a version's through its
agent), so another organization's rows are never read or written. Rows become wire types by
column name (:class:`~agents_core.db.RowShape`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import msgspec
from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from agents_core.db import Query, Repository, RowShape, Violations, insert_into, new_values
from agents_core.db.models import AGENT_NAME_INDEX, Agent, AgentVersion
from agents_core.db.types import AnyOf, ArrayContains, UUIDElement
from agents_core.errors import AgentNameTaken, AgentNotFound, ConstraintViolation, VersionNotFound
from agents_core.schemas import (
    CONFIG_FIELDS,
    AgentConfig,
    AgentModality,
    AgentPublic,
    AgentVersionPublic,
)

__all__ = ["AgentPage", "AgentRepository", "escape_like", "name_key"]

_agents = cast(Table, Agent.__table__)
_versions = cast(Table, AgentVersion.__table__)
_c = _agents.c

AGENT = RowShape(AgentPublic, _agents)
VERSION = RowShape(AgentVersionPublic, _versions)
CONFIG = RowShape(AgentConfig, _agents)


def _p(name: str, type_: Any = None) -> BindParameter[Any]:
    return bindparam(name, type_=type_)


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def name_key(name: str) -> str:
    """The key under which agent names are compared (case-insensitively, as the database's
    unique index on ``lower(name)`` does)."""
    return name.lower()


def _name_taken(name: str) -> AgentNameTaken:
    return AgentNameTaken(f"An active agent named {name!r} already exists")


_NAME_TAKEN: Violations = {AGENT_NAME_INDEX: lambda params: _name_taken(params["new_name"])}


_active_in_org = and_(_c.organization_id == _p("organization_id"), _c.is_active.is_(True))

_GET = Query(select(*AGENT.columns).where(_c.id == _p("agent_id"), _active_in_org))
_LOCK = Query(
    select(*AGENT.columns).where(_c.id == _p("agent_id"), _active_in_org).with_for_update()
)

# One statement serves every combination of filters: an absent filter is bound as NULL. The
# window count gives the total matching rows in the same round trip.
_q = _p("q_pattern", String())
_modality = _p("modality", String())
_tool = _p("tool", String())
_matching = and_(
    _active_in_org,
    or_(_q.is_(None), func.lower(_c.name).like(_q, escape="\\")),
    or_(_modality.is_(None), _c.modality == _modality),
    or_(_tool.is_(None), ArrayContains(_c.tools, _tool)),
)
_PAGE = Query(
    select(*AGENT.columns, func.count().over().label("total"))
    .where(_matching)
    .order_by(_c.created_at.desc(), _c.id.desc())
    .limit(_p("limit", Integer()))
    .offset(_p("offset", Integer()))
)
_COUNT = Query(select(func.count()).select_from(_agents).where(_matching))

# Every active agent, oldest first.
_ALL = Query(select(*AGENT.columns).where(_active_in_org).order_by(_c.created_at, _c.id))

# The same, a page at a time after a position (keyset: each page is an index range scan, however
# far the export has gone); the first page binds the position as NULL.
_after_at = _p("after_created_at", _c.created_at.type)
_after_id = _p("after_id", _c.id.type)
_CHUNK = Query(
    select(*AGENT.columns)
    .where(
        _active_in_org,
        or_(
            _after_at.is_(None),
            _c.created_at > _after_at,
            and_(_c.created_at == _after_at, _c.id > _after_id),
        ),
    )
    .order_by(_c.created_at, _c.id)
    .limit(_p("limit", Integer()))
)
# The names of some of the organization's active agents (the handoff targets of a chunk).
_NAMES = Query(select(_c.id, _c.name).where(_active_in_org, AnyOf(_c.id, "ids")))

# Handoff targets are share-locked until the writer commits: a concurrent delete of one of them
# waits, then finds the new referrer (409); or it committed first, and the target is invalid here.
_ACTIVE_IDS = Query(
    select(_c.id)
    .where(_active_in_org, AnyOf(_c.id, "ids"))
    .order_by(_c.id)
    .with_for_update(read=True)
)
# Active agents by (lowercased) name, share-locked likewise (import resolves names with them).
_BY_NAMES = Query(
    select(func.lower(_c.name), _c.id)
    .where(_active_in_org, AnyOf(func.lower(_c.name), "keys", String()))
    .order_by(_c.id)
    .with_for_update(read=True)
)

# Agents that hand off to ``target`` (locked).
_REFERRERS = Query(
    select(*AGENT.columns)
    .where(
        _active_in_org,
        _c.id != _p("agent_id"),
        ArrayContains(_c.handoff_targets, _p("target", UUIDElement())),
    )
    .order_by(_c.id)
    .with_for_update()
)

# Every candidate copy name starts with the source's name cut to a fixed length, so one query
# finds the ones already taken.
_TAKEN_NAMES = Query(
    select(func.lower(_c.name)).where(
        _active_in_org, func.lower(_c.name).like(_p("prefix_pattern", String()), escape="\\")
    )
)

# The configuration columns, each set from the parameter ``new_<column>``, typed by the column
# (so that SQLite stores lists as JSON). SQLAlchemy reserves the column's own name for itself.
_CONFIG_VALUES: dict[str, BindParameter[Any]] = {
    name: _p(f"new_{name}", _c[name].type) for name in CONFIG_FIELDS
}

_insert = insert_into(
    _agents,
    ("id", "organization_id", *CONFIG_FIELDS),
    is_active=literal_column("true"),
    current_version=literal_column("1"),
)
_INSERT = Query(_insert.returning(*AGENT.columns))
_INSERT_MANY = Query(_insert)

# Every configuration column is set, so that one statement serves every change. The instructions
# (up to 100 KB, stored out of line) are sent only when they change: NULL keeps the stored value
# without rewriting it.
_UPDATE = Query(
    update(_agents)
    .where(_c.id == _p("agent_id"))
    .values(
        {
            **_CONFIG_VALUES,
            "instructions": func.coalesce(_CONFIG_VALUES["instructions"], _c.instructions),
            "current_version": _p("new_version"),
            "updated_at": _p("now"),
        }
    )
    .returning(*AGENT.columns)
)

_SOFT_DELETE = Query(
    update(_agents)
    .where(_c.id == _p("agent_id"))
    .values(is_active=literal_column("false"), updated_at=_p("now"))
)

# -- versions ------------------------------------------------------------------------------------

_SAVE_VERSION = Query(
    insert_into(_versions, ("id", "agent_id", "version", "snapshot", "created_by"))
)
_SNAPSHOT = Query(
    select(_versions.c.snapshot).where(
        _versions.c.agent_id == _p("agent_id"), _versions.c.version == _p("version", Integer())
    )
)

# Agent LEFT JOIN its versions: no row means no such agent; one row with NULLs means an agent
# without (that) version. One round trip either way.
_agent_exists = and_(_c.id == _p("agent_id"), _active_in_org)
_VERSIONS = Query(
    select(*VERSION.columns)
    .select_from(_agents)
    .outerjoin(_versions, _versions.c.agent_id == _c.id)
    .where(_agent_exists)
    .order_by(_versions.c.version.desc())
)
_VERSION = Query(
    select(*VERSION.columns)
    .select_from(_agents)
    .outerjoin(
        _versions,
        and_(_versions.c.agent_id == _c.id, _versions.c.version == _p("version", Integer())),
    )
    .where(_agent_exists)
)
# The agent and the versions asked for that were saved (a diff's two ends).
_CONFIGS_AT = Query(
    select(*AGENT.columns, _versions.c.version, _versions.c.snapshot)
    .select_from(_agents)
    .outerjoin(
        _versions,
        and_(_versions.c.agent_id == _c.id, AnyOf(_versions.c.version, "versions", Integer())),
    )
    .where(_agent_exists)
)


class AgentPage(msgspec.Struct, kw_only=True):
    items: list[AgentPublic]
    total: int


def _stored_config(config: AgentConfig) -> dict[str, Any]:
    """A configuration as its columns store it (enums as their values, ids as ids)."""
    values: dict[str, Any] = msgspec.to_builtins(config.config(), builtin_types=(UUID,))
    return values


def _new_agent(
    organization_id: UUID, agent_id: UUID, config: AgentConfig, now: datetime
) -> dict[str, Any]:
    return new_values(now, id=agent_id, organization_id=organization_id, **_stored_config(config))


class AgentRepository(Repository):
    """Agent and version rows."""

    # -- agents: reads ----------------------------------------------------------------------------

    async def get(
        self, organization_id: UUID, agent_id: UUID, *, lock: bool = False
    ) -> AgentPublic:
        """The active agent; with ``lock``, locked for this transaction (concurrent writers
        queue here)."""
        return await AGENT.get(
            self.conn,
            _LOCK if lock else _GET,
            {"organization_id": organization_id, "agent_id": agent_id},
            AgentNotFound,
        )

    async def page(
        self,
        organization_id: UUID,
        *,
        limit: int,
        offset: int,
        q: str | None,
        modality: AgentModality | None,
        tool: str | None,
    ) -> AgentPage:
        params = {
            "organization_id": organization_id,
            "q_pattern": None if q is None else f"%{escape_like(q.lower())}%",
            "modality": None if modality is None else modality.value,
            "tool": tool,
            "limit": limit,
            "offset": offset,
        }
        rows = await self.conn.fetch(_PAGE, params)
        if rows:
            return AgentPage(items=AGENT.all(rows), total=rows[0][-1])
        if offset == 0:
            return AgentPage(items=[], total=0)
        # Past the end: the window count saw no rows, so count separately (rare).
        count = await self.conn.fetchrow(_COUNT, params)
        return AgentPage(items=[], total=int(count[0]) if count else 0)

    async def all_active(self, organization_id: UUID) -> list[AgentPublic]:
        """Every active agent of the organization, oldest first."""
        return await AGENT.many(self.conn, _ALL, {"organization_id": organization_id})

    async def chunk_after(
        self, organization_id: UUID, after: AgentPublic | None, limit: int
    ) -> list[AgentPublic]:
        """Up to ``limit`` active agents that come after ``after`` in the order of
        :meth:`all_active` (from the first when ``after`` is None)."""
        params = {
            "organization_id": organization_id,
            "after_created_at": None if after is None else after.created_at,
            "after_id": None if after is None else after.id,
            "limit": limit,
        }
        return await AGENT.many(self.conn, _CHUNK, params)

    async def names(self, organization_id: UUID, ids: Sequence[UUID]) -> dict[UUID, str]:
        """Id → name of those of ``ids`` that are active agents of the organization."""
        if not ids:
            return {}
        rows = await self.conn.fetch(_NAMES, {"organization_id": organization_id, "ids": list(ids)})
        return {row[0]: row[1] for row in rows}

    async def active_ids(self, organization_id: UUID, ids: Sequence[UUID]) -> set[UUID]:
        """Those of ``ids`` that are active agents of the organization (share-locked)."""
        if not ids:
            return set()
        rows = await self.conn.fetch(
            _ACTIVE_IDS, {"organization_id": organization_id, "ids": list(ids)}
        )
        return {row[0] for row in rows}

    async def ids_by_name(self, organization_id: UUID, keys: Sequence[str]) -> dict[str, UUID]:
        """Name key → id of the organization's active agents whose names are among ``keys``
        (share-locked: none of them can be deleted before this transaction ends)."""
        if not keys:
            return {}
        rows = await self.conn.fetch(
            _BY_NAMES, {"organization_id": organization_id, "keys": list(keys)}
        )
        return {row[0]: row[1] for row in rows}

    async def referrers(self, organization_id: UUID, agent_id: UUID) -> list[AgentPublic]:
        """Active agents of the organization that hand off to ``agent_id`` (locked)."""
        return await AGENT.many(
            self.conn,
            _REFERRERS,
            {"organization_id": organization_id, "agent_id": agent_id, "target": agent_id},
        )

    async def taken_names(self, organization_id: UUID, prefix: str) -> set[str]:
        """Name keys of the active agents whose names start with ``prefix``."""
        rows = await self.conn.fetch(
            _TAKEN_NAMES,
            {
                "organization_id": organization_id,
                "prefix_pattern": escape_like(name_key(prefix)) + "%",
            },
        )
        return {row[0] for row in rows}

    # -- agents: writes ---------------------------------------------------------------------------

    async def insert(
        self, organization_id: UUID, agent_id: UUID, config: AgentConfig, now: datetime
    ) -> AgentPublic:
        """A new agent at version 1; :class:`AgentNameTaken` when its name is taken."""
        params = _new_agent(organization_id, agent_id, config, now)
        return await AGENT.written(self.conn, _INSERT, params, _NAME_TAKEN)

    async def insert_many(
        self, organization_id: UUID, agents: Mapping[UUID, AgentConfig], now: datetime
    ) -> None:
        """New agents at version 1, in one round trip; :class:`AgentNameTaken` when a name is
        taken (by a concurrent writer: callers check the names they know of first)."""
        rows = [
            _new_agent(organization_id, agent_id, config, now)
            for agent_id, config in agents.items()
        ]
        try:
            await self.conn.execute_many(_INSERT_MANY, rows)
        except ConstraintViolation as exc:
            if exc.constraint == AGENT_NAME_INDEX:
                raise AgentNameTaken(
                    "An agent of the batch was given the same name concurrently; "
                    "nothing was imported"
                ) from None
            raise

    async def update(
        self, agent: AgentPublic, config: AgentConfig, *, version: int, now: datetime
    ) -> AgentPublic:
        """Set ``agent``'s configuration to ``config`` at ``version``."""
        stored = _stored_config(config)
        if config.instructions == agent.instructions:
            stored["instructions"] = None
        params = new_values(now, **stored)
        params.update(agent_id=agent.id, new_version=version)
        return await AGENT.written(self.conn, _UPDATE, params, _NAME_TAKEN)

    async def soft_delete(self, agent_id: UUID, now: datetime) -> None:
        await self.conn.execute(_SOFT_DELETE, {"agent_id": agent_id, "now": now})

    # -- versions ---------------------------------------------------------------------------------

    async def save_version(
        self,
        agent_id: UUID,
        version: int,
        snapshot: AgentConfig,
        *,
        version_id: UUID,
        actor_id: UUID | None,
        now: datetime,
    ) -> None:
        await self.conn.execute(
            _SAVE_VERSION,
            new_values(
                now,
                id=version_id,
                agent_id=agent_id,
                version=version,
                snapshot=msgspec.to_builtins(snapshot.config()),
                created_by=actor_id,
            ),
        )

    async def snapshot(self, agent_id: UUID, version: int) -> AgentConfig | None:
        """The configuration saved as ``version`` of the agent (not the current one)."""
        row = await self.conn.fetchrow(_SNAPSHOT, {"agent_id": agent_id, "version": version})
        return None if row is None else _snapshot_of(row[0])

    async def versions(self, organization_id: UUID, agent_id: UUID) -> list[AgentVersionPublic]:
        """The agent's saved versions, newest first."""
        rows = await self.conn.fetch(
            _VERSIONS, {"organization_id": organization_id, "agent_id": agent_id}
        )
        if not rows:
            raise AgentNotFound()
        return [VERSION(row) for row in rows if VERSION.value(row, "id") is not None]

    async def version(
        self, organization_id: UUID, agent_id: UUID, version: int
    ) -> AgentVersionPublic:
        """One saved version of the agent."""
        row = await self.conn.fetchrow(
            _VERSION,
            {"organization_id": organization_id, "agent_id": agent_id, "version": version},
        )
        if row is None:
            raise AgentNotFound()
        if VERSION.value(row, "id") is None:
            raise VersionNotFound()
        return VERSION(row)

    async def configs_at(
        self, organization_id: UUID, agent_id: UUID, versions: Sequence[int]
    ) -> tuple[AgentPublic, dict[int, AgentConfig]]:
        """The agent and the configurations saved as those of ``versions`` that exist. One
        round trip."""
        rows = await self.conn.fetch(
            _CONFIGS_AT,
            {"organization_id": organization_id, "agent_id": agent_id, "versions": list(versions)},
        )
        if not rows:
            raise AgentNotFound()
        width = len(AGENT.fields)
        saved = {row[width]: _snapshot_of(row[width + 1]) for row in rows if row[width] is not None}
        return AGENT(rows[0]), saved


def _snapshot_of(raw: Any) -> AgentConfig:
    if isinstance(raw, str | bytes):
        return msgspec.json.decode(raw, type=AgentConfig)
    return msgspec.convert(raw, AgentConfig)
