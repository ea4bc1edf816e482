"""Agent writes: create, update (versioned), delete, restore, duplicate.

Every method takes the organization and never touches another's rows. Every change is
recorded in the agent event feed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

import msgspec
from sqlalchemy import String, Table, Uuid, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agents_core.agents.queries import AGENT_COLUMNS, agent_from_row
from agents_core.db.models import Agent, AgentVersion
from agents_core.db.types import ArrayContains
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
    "CONFIG_FIELDS",
    "AgentService",
    "agent_public",
    "agent_snapshot",
    "copy_name",
    "validate_handoff_targets",
]

CONFIG_FIELDS = (
    "name",
    "instructions",
    "model",
    "voice",
    "handoff_targets",
    "tools",
    "modality",
    "panels",
)
"""The members of an agent's configuration: what a version snapshots and a restore restores."""


def agent_public(agent: Agent) -> AgentPublic:
    return AgentPublic(
        id=agent.id,
        organization_id=agent.organization_id,
        name=agent.name,
        instructions=agent.instructions,
        model=agent.model,
        voice=agent.voice,
        handoff_targets=list(agent.handoff_targets),
        tools=list(agent.tools),
        modality=AgentModality(agent.modality),
        panels=[PanelType(p) for p in agent.panels],
        is_active=agent.is_active,
        current_version=agent.current_version,
        created_at=agent.created_at,
        updated_at=agent.updated_at,
    )


def agent_snapshot(agent: Agent) -> AgentSnapshot:
    return AgentSnapshot(
        name=agent.name,
        instructions=agent.instructions,
        model=agent.model,
        voice=agent.voice,
        handoff_targets=list(agent.handoff_targets),
        tools=list(agent.tools),
        modality=AgentModality(agent.modality),
        panels=[PanelType(p) for p in agent.panels],
    )


def _stored(field: str, value: Any) -> Any:
    """A configuration value as the model stores it (enums as their string values)."""
    if field == "modality":
        return AgentModality(value).value
    if field == "panels":
        return [PanelType(p).value for p in value]
    if field in {"handoff_targets", "tools"}:
        return list(value)
    return value


def copy_name(name: str, attempt: int) -> str:
    """The name of a copy: ``"<name> (Copy)"``, then ``(Copy 2)``, ``(Copy 3)`` … within 255."""
    suffix = " (Copy)" if attempt == 1 else f" (Copy {attempt})"
    return name[: MAX_NAME_LENGTH - len(suffix)] + suffix


def _is_name_conflict(exc: IntegrityError) -> bool:
    return "uq_agents_org_name_active" in str(exc.orig)


# The targets are share-locked until the writer commits: a concurrent delete of one of them
# waits, then finds the new referrer (409); or it committed first, and the target is invalid here.
_ACTIVE_IDS = (
    select(Agent.id)
    .where(
        Agent.organization_id == bindparam("organization_id"),
        Agent.is_active.is_(True),
        Agent.id.in_(bindparam("ids", expanding=True)),
    )
    .order_by(Agent.id)
    .with_for_update(read=True)
)


async def validate_handoff_targets(
    session: AsyncSession,
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
    found = set(
        (
            await session.scalars(
                _ACTIVE_IDS, {"organization_id": organization_id, "ids": list(targets)}
            )
        ).all()
    )
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


_AGENTS = cast(Table, Agent.__table__)
_VERSIONS = cast(Table, AgentVersion.__table__)
# The read path's column order (``agent_from_row``), as table columns: Core, not ORM, statements.
_ROW_COLUMNS = [_AGENTS.c[column.key] for column in AGENT_COLUMNS]
_LOCK_ROW = (
    select(*_ROW_COLUMNS)
    .where(
        _AGENTS.c.id == bindparam("agent_id"),
        _AGENTS.c.organization_id == bindparam("organization_id"),
        _AGENTS.c.is_active.is_(True),
    )
    .with_for_update()
)


def _check_expected(current: AgentPublic, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != current.current_version:
        raise VersionMismatch(
            f"The agent is at version {current.current_version}, not {expected_version}"
        )


class AgentService:
    """Writes to agents, in the caller's transaction (``Database.session()``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # -- helpers ----------------------------------------------------------------------------

    async def _lock(self, organization_id: UUID, agent_id: UUID) -> AgentPublic:
        """The active agent, locked for this transaction (concurrent writers queue here)."""
        row = (
            await self.session.execute(
                _LOCK_ROW, {"organization_id": organization_id, "agent_id": agent_id}
            )
        ).first()
        if row is None:
            raise AgentNotFound()
        return agent_from_row(row)

    async def _check_name_free(
        self, organization_id: UUID, name: str, *, except_id: UUID | None = None
    ) -> None:
        stmt = select(Agent.id).where(
            Agent.organization_id == organization_id,
            Agent.is_active.is_(True),
            func.lower(Agent.name) == name.lower(),
        )
        if except_id is not None:
            stmt = stmt.where(Agent.id != except_id)
        if (await self.session.execute(stmt.limit(1))).first() is not None:
            raise AgentNameTaken(f"An active agent named {name!r} already exists")

    async def _flush(self, name: str) -> None:
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            if _is_name_conflict(exc):
                raise AgentNameTaken(f"An active agent named {name!r} already exists") from None
            raise

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

        Two statements through SQLAlchemy Core (the ORM's unit of work was most of a PUT's
        CPU): the previous configuration saved as version ``current_version``, then the update,
        which returns the new row. Returns ``current`` unchanged when nothing differs.
        """
        stored = {field: _stored(field, value) for field, value in changes.items()}
        changed = {f: v for f, v in stored.items() if v != getattr(current, f)}
        if not changed:
            return current
        if "handoff_targets" in changed:
            await validate_handoff_targets(
                self.session, current.organization_id, changed["handoff_targets"], current.id
            )
        if "name" in changed and changed["name"].lower() != current.name.lower():
            await self._check_name_free(
                current.organization_id, changed["name"], except_id=current.id
            )
        await self.session.execute(
            insert(_VERSIONS),
            {
                "agent_id": current.id,
                "version": current.current_version,
                "snapshot": msgspec.to_builtins(current.snapshot()),
                "created_by": actor_id,
            },
        )
        statement = (
            update(_AGENTS)
            .where(_AGENTS.c.id == current.id)
            .values(
                **changed,
                current_version=current.current_version + 1,
                updated_at=datetime.now(UTC),
            )
            .returning(*_ROW_COLUMNS)
        )
        if "name" in changed:
            # Only a new name can hit the unique index; the savepoint keeps the transaction
            # usable so the conflict can be reported as such.
            try:
                async with self.session.begin_nested():
                    row = (await self.session.execute(statement)).one()
            except IntegrityError as exc:
                if _is_name_conflict(exc):
                    raise AgentNameTaken(
                        f"An active agent named {changed['name']!r} already exists"
                    ) from None
                raise
        else:
            row = (await self.session.execute(statement)).one()
        updated = agent_from_row(row)
        events.append((updated.organization_id, updated.id, updated.current_version, kind))
        return updated

    # -- operations -------------------------------------------------------------------------

    async def create(
        self, organization_id: UUID, data: AgentCreate, *, actor_id: UUID | None = None
    ) -> AgentPublic:
        targets = list(data.handoff_targets or [])
        await validate_handoff_targets(self.session, organization_id, targets)
        await self._check_name_free(organization_id, data.name)
        agent = Agent(
            organization_id=organization_id,
            name=data.name,
            instructions=data.instructions,
            model=data.model or DEFAULT_MODEL,
            voice=data.voice,
            handoff_targets=targets,
            tools=list(data.tools or []),
            modality=(data.modality or AgentModality.AUDIO_ONLY).value,
            panels=[p.value for p in data.panels or []],
            is_active=True,
            current_version=1,
        )
        self.session.add(agent)
        await self._flush(agent.name)
        await record_events(
            self.session,
            [(organization_id, agent.id, 1, AgentEventKind.CREATED)],
            actor_id=actor_id,
        )
        return agent_public(agent)

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
        await record_events(self.session, events, actor_id=actor_id)
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
        stmt = select(AgentVersion.snapshot).where(
            AgentVersion.agent_id == current.id, AgentVersion.version == version
        )
        raw = (await self.session.execute(stmt)).scalar_one_or_none()
        if raw is None:
            raise VersionNotFound()
        snapshot = msgspec.convert(raw, AgentSnapshot)
        changes = {field: getattr(snapshot, field) for field in CONFIG_FIELDS}
        events: list[EventRecord] = []
        restored = await self._apply(
            current, changes, actor_id=actor_id, kind=AgentEventKind.RESTORED, events=events
        )
        await record_events(self.session, events, actor_id=actor_id)
        return restored

    async def referrers(self, organization_id: UUID, agent_id: UUID) -> list[AgentPublic]:
        """Active agents of the organization that hand off to ``agent_id`` (locked)."""
        # JSON arrays on SQLite hold ids as text; PostgreSQL compares native uuids.
        target = (
            bindparam("target", agent_id, type_=Uuid())
            if self.session.get_bind().dialect.name == "postgresql"
            else bindparam("target", str(agent_id), type_=String())
        )
        stmt = (
            select(*_ROW_COLUMNS)
            .where(
                _AGENTS.c.organization_id == organization_id,
                _AGENTS.c.is_active.is_(True),
                _AGENTS.c.id != agent_id,
                ArrayContains(_AGENTS.c.handoff_targets, target),
            )
            .order_by(_AGENTS.c.id)
            .with_for_update()
        )
        return [agent_from_row(row) for row in (await self.session.execute(stmt)).all()]

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
        await self.session.execute(
            update(_AGENTS)
            .where(_AGENTS.c.id == current.id)
            .values(is_active=False, updated_at=datetime.now(UTC))
        )
        events.append(
            (organization_id, current.id, current.current_version, AgentEventKind.DELETED)
        )
        await record_events(self.session, events, actor_id=actor_id)
        return [r.id for r in referrers]

    async def duplicate(
        self, organization_id: UUID, agent_id: UUID, *, actor_id: UUID | None = None
    ) -> AgentPublic:
        """A new agent with the same configuration, named ``"<name> (Copy)"`` (or the first
        free ``(Copy N)``), at version 1 with no history."""
        stmt = select(Agent).where(
            Agent.id == agent_id,
            Agent.organization_id == organization_id,
            Agent.is_active.is_(True),
        )
        found = (await self.session.scalars(stmt)).first()
        if found is None:
            raise AgentNotFound()
        # Plain values: a failed attempt below rolls back a savepoint, which expires every
        # object of the session.
        source = agent_snapshot(found)
        # The copy hands off to the same agents: share-lock them so that none can be deleted
        # before the copy commits (a delete locks its agent first, then looks for referrers,
        # so it waits and then sees the copy). A target deleted while we waited is left out,
        # as the delete's ``force`` would have done to the source.
        targets = list(source.handoff_targets)
        if targets:
            locked = select(Agent.id).where(
                Agent.organization_id == organization_id,
                Agent.is_active.is_(True),
                Agent.id.in_(targets),
            )
            locked = locked.order_by(Agent.id).with_for_update(read=True)
            alive = set(await self.session.scalars(locked))
            targets = [t for t in targets if t in alive]

        # Every candidate name starts with this prefix (for up to 99999 copies), so one query
        # finds the ones already taken.
        prefix = source.name[: MAX_NAME_LENGTH - len(" (Copy 99999)")]
        taken_stmt = select(func.lower(Agent.name)).where(
            Agent.organization_id == organization_id,
            Agent.is_active.is_(True),
            Agent.name.istartswith(prefix, autoescape=True),
        )
        taken = set((await self.session.scalars(taken_stmt)).all())
        attempt = 1
        for _ in range(5):
            while copy_name(source.name, attempt).lower() in taken:
                attempt += 1
            name = copy_name(source.name, attempt)
            copy = Agent(
                id=uuid4(),
                organization_id=organization_id,
                name=name,
                instructions=source.instructions,
                model=source.model,
                voice=source.voice,
                handoff_targets=targets,
                tools=list(source.tools),
                modality=source.modality.value,
                panels=[p.value for p in source.panels],
                is_active=True,
                current_version=1,
            )
            try:
                # Added inside the savepoint, so that a conflict discards it with the savepoint.
                async with self.session.begin_nested():
                    self.session.add(copy)
                    await self.session.flush()
            except IntegrityError as exc:
                if not _is_name_conflict(exc):
                    raise
                # A concurrent writer took the name after we looked: try the next one.
                taken.add(name.lower())
                continue
            await record_events(
                self.session,
                [(organization_id, copy.id, 1, AgentEventKind.DUPLICATED)],
                actor_id=actor_id,
            )
            return agent_public(copy)
        raise AgentNameTaken(f"No free name for a copy of {source.name!r}; try again")
