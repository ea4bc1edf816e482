"""The agents aggregate's rules: reads, versioned writes, duplication, export and import.

The service is made for one scope (connection, organization, actor) and never touches another
organization's rows. Every write runs in a transaction on the scope's connection (a savepoint
inside the caller's, if there is one) and records what it did in the event feed, by the scope's
actor, in that transaction, as its last statement.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import msgspec

from agents_core.agents import importing
from agents_core.agents.repository import AgentPage, AgentRepository
from agents_core.errors import (
    AgentNameTaken,
    AgentReferenced,
    InvalidHandoffTargets,
    VersionMismatch,
    VersionNotFound,
)
from agents_core.events.repository import Event, EventRepository
from agents_core.schemas import (
    MAX_NAME_LENGTH,
    AgentConfig,
    AgentCreate,
    AgentDiff,
    AgentEventKind,
    AgentExport,
    AgentImportResult,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    FieldError,
)
from agents_core.service import ScopedService

__all__ = ["EXPORT_CHUNK", "AgentService", "copy_name"]

EXPORT_CHUNK = 100
"""Agents an export holds at a time: its memory does not grow with the organization (an agent's
instructions may reach 100,000 characters, so a chunk stays small)."""

_COPY_ATTEMPTS = 5
_LONGEST_COPY_SUFFIX = " (Copy 99999)"


def copy_name(name: str, attempt: int) -> str:
    """The name of a copy: ``"<name> (Copy)"``, then ``(Copy 2)``, ``(Copy 3)`` … within 255."""
    suffix = " (Copy)" if attempt == 1 else f" (Copy {attempt})"
    return name[: MAX_NAME_LENGTH - len(suffix)] + suffix


_FIELD_TYPES: dict[str, Any] = {f.name: f.type for f in msgspec.structs.fields(AgentConfig)}


def _stored(field: str, value: Any) -> Any:
    """A configuration value as the configuration holds it (enum members, fresh lists), so
    that it compares equal to the stored one when it is the same."""
    return msgspec.convert(value, _FIELD_TYPES[field])


def _check_expected(current: AgentPublic, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != current.current_version:
        raise VersionMismatch(
            f"The agent is at version {current.current_version}, not {expected_version}"
        )


class AgentService(ScopedService):
    """Agents of the scope's organization."""

    agents: AgentRepository
    events: EventRepository

    # -- reads --------------------------------------------------------------------------------

    async def get(self, agent_id: UUID) -> AgentPublic:
        return await self.agents.get(self.organization_id, agent_id)

    async def page(
        self,
        *,
        limit: int = 100,
        offset: int = 0,
        q: str | None = None,
        modality: AgentModality | None = None,
        tool: str | None = None,
    ) -> AgentPage:
        """Active agents, newest first, with the number matching before limit and offset."""
        return await self.agents.page(
            self.organization_id, limit=limit, offset=offset, q=q, modality=modality, tool=tool
        )

    async def versions(self, agent_id: UUID) -> list[AgentVersionPublic]:
        return await self.agents.versions(self.organization_id, agent_id)

    async def version(self, agent_id: UUID, version: int) -> AgentVersionPublic:
        return await self.agents.version(self.organization_id, agent_id, version)

    async def diff(self, agent_id: UUID, from_: int, to: int | None = None) -> AgentDiff:
        """The configuration fields that differ between versions ``from_`` and ``to`` (default:
        the current version, the agent's live configuration). One round trip."""
        agent, saved = await self.agents.configs_at(
            self.organization_id, agent_id, [from_] if to is None else [from_, to]
        )
        to = agent.current_version if to is None else to

        def at(version: int) -> AgentConfig:
            if version == agent.current_version:
                return agent.config()
            if version in saved:
                return saved[version]
            raise VersionNotFound(f"The agent has no version {version}")

        before, after = at(from_), at(to)
        return AgentDiff(agent_id=agent.id, from_=from_, to=to, changes=before.changes_to(after))

    async def referrers(self, agent_id: UUID) -> list[AgentPublic]:
        """Active agents of the organization that hand off to ``agent_id`` (locked)."""
        return await self.agents.referrers(self.organization_id, agent_id)

    async def export(self) -> list[AgentExport]:
        """Every active agent, oldest first, portable (handoff targets by name)."""
        return [item async for chunk in self.export_chunks() for item in chunk]

    async def export_chunks(
        self, chunk: int = EXPORT_CHUNK
    ) -> AsyncGenerator[list[AgentExport], None]:
        """:meth:`export`, ``chunk`` agents at a time, all read from one snapshot of the database
        (a transaction held until the last chunk): a target renamed or deleted meanwhile is
        seen as it was, so every handoff name is the name of an agent the export holds.

        Targets are named per chunk, by one look-up of the chunk's own targets: nothing the
        size of the organization is held at any time. Close the iterator when stopping early.
        """
        async with self.conn.transaction(snapshot=True):
            last: AgentPublic | None = None
            while True:
                agents = await self.agents.chunk_after(self.organization_id, last, chunk)
                if not agents:
                    return
                targets = {target for agent in agents for target in agent.handoff_targets}
                names = await self.agents.names(self.organization_id, list(targets))
                yield [AgentExport.of(agent, names) for agent in agents]
                if len(agents) < chunk:
                    return
                last = agents[-1]

    # -- rules --------------------------------------------------------------------------------

    async def _validate_targets(
        self, targets: Sequence[UUID], agent_id: UUID | None = None
    ) -> None:
        """Reject handoff targets that are missing, deleted, foreign, or the agent itself; the
        valid ones are share-locked until the transaction ends. The error lists every bad id,
        each with its position in ``handoff_targets``."""
        if not targets:
            return
        found = await self.agents.active_ids(self.organization_id, targets)
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

    async def _apply(
        self,
        current: AgentPublic,
        changes: dict[str, Any],
        kind: AgentEventKind,
    ) -> tuple[AgentPublic, Event | None]:
        """Apply configuration changes to a locked agent as a new version: the previous
        configuration saved as version ``current_version``, then the update. Returns the agent
        and the event to record, or ``current`` and no event when nothing differs."""
        changed = {}
        for field, value in changes.items():
            stored = _stored(field, value)
            if stored != getattr(current, field):
                changed[field] = stored
        if not changed:
            return current, None
        if "handoff_targets" in changed:
            await self._validate_targets(changed["handoff_targets"], current.id)
        previous = current.config()
        now = datetime.now(UTC)
        await self.agents.save_version(
            current.id,
            current.current_version,
            previous,
            version_id=uuid4(),
            actor_id=self.actor_id,
            now=now,
        )
        updated = await self.agents.update(
            current,
            msgspec.structs.replace(previous, **changed),
            version=current.current_version + 1,
            now=now,
        )
        return updated, self._event(updated.id, updated.current_version, kind)

    def _event(self, agent_id: UUID, version: int, kind: AgentEventKind) -> Event:
        return Event(self.organization_id, agent_id, version, kind)

    async def _record(self, events: list[Event]) -> None:
        """Record the transaction's events, by the scope's actor (its last statement)."""
        await self.events.record(events, actor_id=self.actor_id)

    # -- writes -------------------------------------------------------------------------------

    async def create(self, data: AgentCreate) -> AgentPublic:
        config = data.config()
        async with self.conn.transaction():
            await self._validate_targets(config.handoff_targets)
            agent = await self.agents.insert(
                self.organization_id, uuid4(), config, datetime.now(UTC)
            )
            await self._record([self._event(agent.id, 1, AgentEventKind.CREATED)])
        return agent

    async def update(
        self, agent_id: UUID, data: AgentUpdate, *, expected_version: int | None = None
    ) -> AgentPublic:
        """Apply the members sent. The previous configuration becomes version
        ``current_version``; a request that changes nothing creates no version."""

        async def sent(_: AgentPublic) -> dict[str, Any]:
            return data.changes()

        return await self._change(agent_id, sent, expected_version, AgentEventKind.UPDATED)

    async def restore(
        self, agent_id: UUID, version: int, *, expected_version: int | None = None
    ) -> AgentPublic:
        """Make a saved version the current configuration, as an update."""

        async def saved(current: AgentPublic) -> dict[str, Any]:
            snapshot = await self.agents.snapshot(current.id, version)
            if snapshot is None:
                raise VersionNotFound()
            return msgspec.structs.asdict(snapshot)

        return await self._change(agent_id, saved, expected_version, AgentEventKind.RESTORED)

    async def _change(
        self,
        agent_id: UUID,
        changes: Callable[[AgentPublic], Awaitable[dict[str, Any]]],
        expected_version: int | None,
        kind: AgentEventKind,
    ) -> AgentPublic:
        """One versioned change of the locked agent: ``changes`` says what it is."""
        async with self.conn.transaction():
            current = await self.agents.get(self.organization_id, agent_id, lock=True)
            _check_expected(current, expected_version)
            changed, event = await self._apply(current, await changes(current), kind)
            if event is not None:
                await self._record([event])
        return changed

    async def delete(self, agent_id: UUID, *, force: bool = False) -> list[UUID]:
        """Soft-delete the agent. With ``force``, first remove it from the handoff targets of
        the agents that refer to it (each such change a new version); without, refuse.

        Returns the ids of the agents that were changed by ``force``.
        """
        async with self.conn.transaction():
            current = await self.agents.get(self.organization_id, agent_id, lock=True)
            referrers = await self.agents.referrers(self.organization_id, agent_id)
            if referrers and not force:
                names = ", ".join(f"{r.name} ({r.id})" for r in referrers)
                raise AgentReferenced(
                    f"Other active agents hand off to this agent: {names}",
                    errors=[
                        FieldError(field="handoff_targets", message=f"referenced by agent {r.id}")
                        for r in referrers
                    ],
                )
            events: list[Event] = []
            for referrer in referrers:
                remaining = [t for t in referrer.handoff_targets if t != agent_id]
                _, event = await self._apply(
                    referrer, {"handoff_targets": remaining}, AgentEventKind.UPDATED
                )
                if event is not None:
                    events.append(event)
            await self.agents.soft_delete(current.id, datetime.now(UTC))
            events.append(self._event(current.id, current.current_version, AgentEventKind.DELETED))
            await self._record(events)
        return [r.id for r in referrers]

    async def duplicate(self, agent_id: UUID) -> AgentPublic:
        """A new agent with the same configuration, named ``"<name> (Copy)"`` (or the first
        free ``(Copy N)``), at version 1 with no history."""
        async with self.conn.transaction():
            source = (await self.get(agent_id)).config()
            # The copy hands off to the same agents: share-lock them so that none can be
            # deleted before the copy commits (a delete locks its agent first, then looks for
            # referrers, so it waits and then sees the copy). A target deleted while we waited
            # is left out, as the delete's ``force`` would have done to the source.
            if source.handoff_targets:
                alive = await self.agents.active_ids(self.organization_id, source.handoff_targets)
                source.handoff_targets = [t for t in source.handoff_targets if t in alive]
            taken = await self.agents.taken_names(
                self.organization_id, source.name[: MAX_NAME_LENGTH - len(_LONGEST_COPY_SUFFIX)]
            )
            copy = await self._insert_copy(source, taken)
            await self._record([self._event(copy.id, 1, AgentEventKind.DUPLICATED)])
        return copy

    async def _insert_copy(self, source: AgentConfig, taken: set[str]) -> AgentPublic:
        attempt = 1
        for _ in range(_COPY_ATTEMPTS):
            while copy_name(source.name, attempt).lower() in taken:
                attempt += 1
            name = copy_name(source.name, attempt)
            try:
                # A savepoint: a conflict discards only this attempt.
                async with self.conn.transaction():
                    return await self.agents.insert(
                        self.organization_id,
                        uuid4(),
                        msgspec.structs.replace(source, name=name),
                        datetime.now(UTC),
                    )
            except AgentNameTaken:
                # A concurrent writer took the name after we looked: try the next one.
                taken.add(name.lower())
        raise AgentNameTaken(f"No free name for a copy of {source.name!r}; try again")

    async def import_agents(
        self, items: Sequence[AgentExport], *, dry_run: bool = False
    ) -> AgentImportResult:
        """Create the batch's new agents, all or nothing (the rules are
        :mod:`agents_core.agents.importing`'s). With ``dry_run`` the batch is validated and the
        result reported, but nothing is written and ``agents`` is empty.

        A handful of statements whatever the batch's size: one reads (and share-locks) the
        existing agents the batch mentions, one inserts every new agent, and the event feed
        takes its two.
        """
        async with self.conn.transaction():
            existing = await self.agents.ids_by_name(
                self.organization_id, importing.mentioned_names(items)
            )
            plan = importing.plan(items, existing)
            now = datetime.now(UTC)
            created = [
                AgentPublic(
                    **msgspec.structs.asdict(config),
                    id=agent_id,
                    organization_id=self.organization_id,
                    is_active=True,
                    current_version=1,
                    created_at=now,
                    updated_at=now,
                )
                for agent_id, config in plan.create.items()
            ]
            if not dry_run and created:
                await self.agents.insert_many(self.organization_id, plan.create, now)
                await self._record(
                    [self._event(agent.id, 1, AgentEventKind.IMPORTED) for agent in created]
                )
        return AgentImportResult(
            created=len(created),
            skipped=len(plan.skipped_names),
            agents=[] if dry_run else created,
            created_names=plan.created_names,
            skipped_names=plan.skipped_names,
            dry_run=dry_run,
        )
