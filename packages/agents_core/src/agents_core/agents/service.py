"""Agent writes: create, update (versioned), delete, restore, duplicate.

Every method takes the organization and never touches another's rows. Every change is
recorded in the agent event feed in the same transaction.

The writes are SQLAlchemy Core statements run on a :class:`Connection`, each defined once: on
PostgreSQL they run on the asyncpg connection the request already holds (compiled once), on
SQLite through SQLAlchemy. No ORM unit of work on these paths: it was most of a PUT's CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import (
    ARRAY,
    String,
    Table,
    Uuid,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.sql.elements import BindParameter

from agents_core.agents.queries import AGENT_COLUMNS, agent_from_row, escape_like
from agents_core.db.database import Connection, Query, violates
from agents_core.db.models import AGENT_NAME_INDEX, Agent, AgentVersion
from agents_core.db.types import ArrayContains, StringList, UUIDList
from agents_core.errors import (
    AgentNameTaken,
    AgentNotFound,
    AgentReferenced,
    InvalidHandoffTargets,
    VersionMismatch,
    VersionNotFound,
)
from agents_core.events.recorder import EventRecord, record_events
from agents_core.schemas import (
    DEFAULT_MODEL,
    MAX_NAME_LENGTH,
    AgentCreate,
    AgentEventKind,
    AgentModality,
    AgentPublic,
    AgentSnapshot,
    AgentUpdate,
    FieldError,
    PanelType,
)

__all__ = [
    "AgentService",
    "copy_name",
    "validate_handoff_targets",
]


def copy_name(name: str, attempt: int) -> str:
    """The name of a copy: ``"<name> (Copy)"``, then ``(Copy 2)``, ``(Copy 3)`` … within 255."""
    suffix = " (Copy)" if attempt == 1 else f" (Copy {attempt})"
    return name[: MAX_NAME_LENGTH - len(suffix)] + suffix


def _stored(field: str, value: Any) -> Any:
    """A configuration value as it is stored and compared (enum members, fresh lists)."""
    if field == "modality":
        return AgentModality(value)
    if field == "panels":
        return [PanelType(p) for p in value]
    if field in {"handoff_targets", "tools"}:
        return list(value)
    return value


def _name_taken(name: str) -> AgentNameTaken:
    return AgentNameTaken(f"An active agent named {name!r} already exists")


# -- statements (each defined once; see the module docstring) ------------------------------------

_AGENTS = cast(Table, Agent.__table__)
_VERSIONS = cast(Table, AgentVersion.__table__)
# The read path's column order (``agent_from_row``), as table columns: Core, not ORM, statements.
_ROW_COLUMNS = [_AGENTS.c[column.key] for column in AGENT_COLUMNS]
_c = _AGENTS.c


def _p(name: str, type_: Any = None) -> BindParameter[Any]:
    return bindparam(name, type_=type_)


_LOCK = Query(
    select(*_ROW_COLUMNS)
    .where(
        _c.id == _p("agent_id"),
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
    )
    .with_for_update()
)
_SOURCE = Query(
    select(*_ROW_COLUMNS).where(
        _c.id == _p("agent_id"),
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
    )
)

# Handoff targets are share-locked until the writer commits: a concurrent delete of one of them
# waits, then finds the new referrer (409); or it committed first, and the target is invalid here.
# PostgreSQL takes the ids as one array parameter, SQLite as an expanding IN.
_active_ids = select(_c.id).order_by(_c.id).with_for_update(read=True)
_ACTIVE_IDS = Query(
    _active_ids.where(
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
        _c.id.in_(bindparam("ids", expanding=True)),
    ),
    pg=_active_ids.where(
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
        _c.id == any_(_p("ids", ARRAY(Uuid()))),
    ),
)

# The configuration columns, each set from the parameter ``new_<column>`` (``_config_params``).
_CONFIG_VALUES: dict[str, Any] = {
    "name": _p("new_name"),
    "instructions": _p("new_instructions", String()),
    "model": _p("new_model"),
    "voice": _p("new_voice"),
    "handoff_targets": _p("new_handoff_targets", UUIDList()),
    "tools": _p("new_tools", StringList()),
    "modality": _p("new_modality"),
    "panels": _p("new_panels", StringList()),
}

_INSERT = Query(
    insert(_AGENTS)
    .values(
        id=_p("new_id"),
        organization_id=_p("organization_id"),
        **_CONFIG_VALUES,
        # SQL literals, not parameters: every parameter of these statements is named by us.
        is_active=literal_column("true"),
        current_version=literal_column("1"),
        created_at=_p("now"),
        updated_at=_p("now"),
    )
    .returning(*_ROW_COLUMNS)
)

_SAVE_VERSION = Query(
    insert(_VERSIONS).values(
        id=_p("version_id"),
        agent_id=_p("agent_id"),
        version=_p("saved_version"),
        snapshot=_p("snapshot"),
        created_by=_p("actor_id"),
        created_at=_p("now"),
        updated_at=_p("now"),
    )
)

# Every configuration column is set, so that one statement serves every change. The instructions
# (up to 100 KB, stored out of line) are sent only when they change: NULL keeps the stored value
# without rewriting it.
_UPDATE = Query(
    update(_AGENTS)
    .where(_c.id == _p("agent_id"))
    .values(
        {
            **_CONFIG_VALUES,
            "instructions": func.coalesce(_CONFIG_VALUES["instructions"], _c.instructions),
            "current_version": _p("new_version"),
            "updated_at": _p("now"),
        }
    )
    .returning(*_ROW_COLUMNS)
)

_SOFT_DELETE = Query(
    update(_AGENTS)
    .where(_c.id == _p("agent_id"))
    .values(is_active=literal_column("false"), updated_at=_p("now"))
)

_SNAPSHOT = Query(
    select(_VERSIONS.c.snapshot).where(
        _VERSIONS.c.agent_id == _p("agent_id"), _VERSIONS.c.version == _p("version")
    )
)

# Agents that hand off to ``target`` (locked). JSON arrays on SQLite hold ids as text; PostgreSQL
# compares native uuids.
_referrers = (
    select(*_ROW_COLUMNS)
    .where(
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
        _c.id != _p("agent_id"),
    )
    .order_by(_c.id)
    .with_for_update()
)
_REFERRERS = Query(
    _referrers.where(ArrayContains(_c.handoff_targets, _p("target", String()))),
    pg=_referrers.where(ArrayContains(_c.handoff_targets, _p("target", Uuid()))),
)

# Every candidate copy name starts with the source's name cut to this length (for up to 99999
# copies), so one query finds the ones already taken.
_TAKEN_NAMES = Query(
    select(func.lower(_c.name)).where(
        _c.organization_id == _p("organization_id"),
        _c.is_active.is_(True),
        func.lower(_c.name).like(_p("prefix_pattern", String()), escape="\\"),
    )
)


async def validate_handoff_targets(
    conn: Connection,
    organization_id: UUID,
    targets: Sequence[UUID],
    agent_id: UUID | None = None,
) -> None:
    """Reject handoff targets that are missing, deleted, foreign, or the agent itself.

    One query whatever the number of targets. The error lists every bad id, each with its
    position in ``handoff_targets``.
    """
    if not targets:
        return
    rows = await conn.fetch(_ACTIVE_IDS, {"organization_id": organization_id, "ids": list(targets)})
    found = {row[0] for row in rows}
    errors: list[FieldError] = []
    bad: list[str] = []
    for index, target in enumerate(targets):
        if agent_id is not None and target == agent_id:
            message = "an agent cannot hand off to itself"
        elif target not in found:
            message = f"agent {target} does not exist in this organization"
        else:
            continue
        bad.append(str(target))
        errors.append(FieldError(field=f"handoff_targets[{index}]", message=message))
    if errors:
        raise InvalidHandoffTargets(
            "handoff_targets contains agents that are not valid targets in this organization: "
            + ", ".join(bad),
            errors=errors,
        )


def _check_expected(current: AgentPublic, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != current.current_version:
        raise VersionMismatch(
            f"The agent is at version {current.current_version}, not {expected_version}"
        )


def _config_params(config: AgentSnapshot, organization_id: UUID) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "new_name": config.name,
        "new_instructions": config.instructions,
        "new_model": config.model,
        "new_voice": config.voice,
        "new_handoff_targets": config.handoff_targets,
        "new_tools": config.tools,
        "new_modality": config.modality.value,
        "new_panels": [p.value for p in config.panels],
    }


class AgentService:
    """Writes to agents, in the transaction of the connection it is given
    (``Database.transaction()``, or ``Connection.transaction()`` on a request's connection)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- helpers ----------------------------------------------------------------------------

    async def _lock(self, organization_id: UUID, agent_id: UUID) -> AgentPublic:
        """The active agent, locked for this transaction (concurrent writers queue here)."""
        row = await self.conn.fetchrow(
            _LOCK, {"organization_id": organization_id, "agent_id": agent_id}
        )
        if row is None:
            raise AgentNotFound()
        return agent_from_row(row)

    async def _insert(self, organization_id: UUID, config: AgentSnapshot) -> AgentPublic:
        """Insert a new agent at version 1 (a name conflict is left to the caller)."""
        params = _config_params(config, organization_id)
        params["new_id"] = uuid4()
        params["now"] = datetime.now(UTC)
        row = await self.conn.fetchrow(_INSERT, params)
        assert row is not None
        return agent_from_row(row)

    async def _apply(
        self,
        current: AgentPublic,
        changes: dict[str, Any],
        *,
        actor_id: UUID | None,
        kind: AgentEventKind,
        events: list[EventRecord],
    ) -> AgentPublic:
        """Apply configuration changes to a locked agent as a new version.

        Two statements: the previous configuration saved as version ``current_version``, then
        the update, which returns the new row. Returns ``current`` unchanged when nothing
        differs. A new name taken by another active agent fails on the unique index, which
        aborts the transaction: the caller's transaction is rolled back with the error.
        """
        changed = {}
        for field, value in changes.items():
            stored = _stored(field, value)
            if stored != getattr(current, field):
                changed[field] = stored
        if not changed:
            return current
        if "handoff_targets" in changed:
            await validate_handoff_targets(
                self.conn, current.organization_id, changed["handoff_targets"], current.id
            )
        previous = current.snapshot()
        now = datetime.now(UTC)
        await self.conn.execute(
            _SAVE_VERSION,
            {
                "version_id": uuid4(),
                "agent_id": current.id,
                "saved_version": current.current_version,
                "snapshot": msgspec.to_builtins(previous),
                "actor_id": actor_id,
                "now": now,
            },
        )
        params = _config_params(
            msgspec.structs.replace(previous, **changed), current.organization_id
        )
        if "instructions" not in changed:
            params["new_instructions"] = None
        params["agent_id"] = current.id
        params["new_version"] = current.current_version + 1
        params["now"] = now
        try:
            row = await self.conn.fetchrow(_UPDATE, params)
        except Exception as exc:
            if violates(exc, AGENT_NAME_INDEX):
                raise _name_taken(changed["name"]) from None
            raise
        assert row is not None
        updated = agent_from_row(row)
        events.append((updated.organization_id, updated.id, updated.current_version, kind))
        return updated

    # -- operations -------------------------------------------------------------------------

    async def create(
        self, organization_id: UUID, data: AgentCreate, *, actor_id: UUID | None = None
    ) -> AgentPublic:
        targets = list(data.handoff_targets or [])
        await validate_handoff_targets(self.conn, organization_id, targets)
        config = AgentSnapshot(
            name=data.name,
            instructions=data.instructions,
            model=data.model or DEFAULT_MODEL,
            voice=data.voice,
            handoff_targets=targets,
            tools=list(data.tools or []),
            modality=data.modality or AgentModality.AUDIO_ONLY,
            panels=list(data.panels or []),
        )
        try:
            agent = await self._insert(organization_id, config)
        except Exception as exc:
            if violates(exc, AGENT_NAME_INDEX):
                raise _name_taken(data.name) from None
            raise
        await record_events(
            self.conn,
            [(organization_id, agent.id, 1, AgentEventKind.CREATED)],
            actor_id=actor_id,
        )
        return agent

    async def update(
        self,
        organization_id: UUID,
        agent_id: UUID,
        data: AgentUpdate,
        *,
        expected_version: int | None = None,
        actor_id: UUID | None = None,
    ) -> AgentPublic:
        """Apply the members sent. The previous configuration becomes version
        ``current_version``; a request that changes nothing creates no version."""
        current = await self._lock(organization_id, agent_id)
        _check_expected(current, expected_version)
        events: list[EventRecord] = []
        updated = await self._apply(
            current, data.changes(), actor_id=actor_id, kind=AgentEventKind.UPDATED, events=events
        )
        await record_events(self.conn, events, actor_id=actor_id)
        return updated

    async def restore(
        self,
        organization_id: UUID,
        agent_id: UUID,
        version: int,
        *,
        expected_version: int | None = None,
        actor_id: UUID | None = None,
    ) -> AgentPublic:
        """Make a saved version the current configuration, as an update."""
        current = await self._lock(organization_id, agent_id)
        _check_expected(current, expected_version)
        row = await self.conn.fetchrow(_SNAPSHOT, {"agent_id": current.id, "version": version})
        if row is None:
            raise VersionNotFound()
        raw = row[0]
        if isinstance(raw, str | bytes):
            raw = msgspec.json.decode(raw)
        snapshot = msgspec.convert(raw, AgentSnapshot)
        changes = msgspec.structs.asdict(snapshot)
        events: list[EventRecord] = []
        restored = await self._apply(
            current, changes, actor_id=actor_id, kind=AgentEventKind.RESTORED, events=events
        )
        await record_events(self.conn, events, actor_id=actor_id)
        return restored

    async def referrers(self, organization_id: UUID, agent_id: UUID) -> list[AgentPublic]:
        """Active agents of the organization that hand off to ``agent_id`` (locked)."""
        target: UUID | str = agent_id if self.conn.is_postgres else str(agent_id)
        rows = await self.conn.fetch(
            _REFERRERS,
            {"organization_id": organization_id, "agent_id": agent_id, "target": target},
        )
        return [agent_from_row(row) for row in rows]

    async def delete(
        self,
        organization_id: UUID,
        agent_id: UUID,
        *,
        force: bool = False,
        actor_id: UUID | None = None,
    ) -> list[UUID]:
        """Soft-delete the agent. With ``force``, first remove it from the handoff targets of
        the agents that refer to it (each such change a new version); without, refuse.

        Returns the ids of the agents that were changed by ``force``.
        """
        current = await self._lock(organization_id, agent_id)
        referrers = await self.referrers(organization_id, agent_id)
        if referrers and not force:
            names = ", ".join(f"{r.name} ({r.id})" for r in referrers)
            raise AgentReferenced(
                f"Other active agents hand off to this agent: {names}",
                errors=[
                    FieldError(field="handoff_targets", message=f"referenced by agent {r.id}")
                    for r in referrers
                ],
            )
        events: list[EventRecord] = []
        for referrer in referrers:
            remaining = [t for t in referrer.handoff_targets if t != agent_id]
            await self._apply(
                referrer,
                {"handoff_targets": remaining},
                actor_id=actor_id,
                kind=AgentEventKind.UPDATED,
                events=events,
            )
        await self.conn.execute(_SOFT_DELETE, {"agent_id": current.id, "now": datetime.now(UTC)})
        events.append(
            (organization_id, current.id, current.current_version, AgentEventKind.DELETED)
        )
        await record_events(self.conn, events, actor_id=actor_id)
        return [r.id for r in referrers]

    async def duplicate(
        self, organization_id: UUID, agent_id: UUID, *, actor_id: UUID | None = None
    ) -> AgentPublic:
        """A new agent with the same configuration, named ``"<name> (Copy)"`` (or the first
        free ``(Copy N)``), at version 1 with no history."""
        row = await self.conn.fetchrow(
            _SOURCE, {"organization_id": organization_id, "agent_id": agent_id}
        )
        if row is None:
            raise AgentNotFound()
        source = agent_from_row(row).snapshot()
        # The copy hands off to the same agents: share-lock them so that none can be deleted
        # before the copy commits (a delete locks its agent first, then looks for referrers,
        # so it waits and then sees the copy). A target deleted while we waited is left out,
        # as the delete's ``force`` would have done to the source.
        if source.handoff_targets:
            rows = await self.conn.fetch(
                _ACTIVE_IDS,
                {"organization_id": organization_id, "ids": list(source.handoff_targets)},
            )
            alive = {r[0] for r in rows}
            source.handoff_targets = [t for t in source.handoff_targets if t in alive]

        prefix = source.name[: MAX_NAME_LENGTH - len(" (Copy 99999)")]
        pattern = escape_like(prefix.lower()) + "%"
        rows = await self.conn.fetch(
            _TAKEN_NAMES, {"organization_id": organization_id, "prefix_pattern": pattern}
        )
        taken = {r[0] for r in rows}
        attempt = 1
        for _ in range(5):
            while copy_name(source.name, attempt).lower() in taken:
                attempt += 1
            name = copy_name(source.name, attempt)
            try:
                # A savepoint: a conflict discards only this attempt.
                async with self.conn.transaction():
                    copy = await self._insert(
                        organization_id, msgspec.structs.replace(source, name=name)
                    )
            except Exception as exc:
                if not violates(exc, AGENT_NAME_INDEX):
                    raise
                # A concurrent writer took the name after we looked: try the next one.
                taken.add(name.lower())
                continue
            await record_events(
                self.conn,
                [(organization_id, copy.id, 1, AgentEventKind.DUPLICATED)],
                actor_id=actor_id,
            )
            return copy
        raise AgentNameTaken(f"No free name for a copy of {source.name!r}; try again")
