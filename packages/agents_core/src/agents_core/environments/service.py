"""The environments aggregate's rules: deploy (put), promote, roll back, delete, read, and
resolve one agent for a call.

Every move runs in a transaction that locks the environment's row (its writers queue there),
checks ``If-Match`` against its revision, and — when the target differs from what it serves —
bumps the revision, keeps the move in the history and records a ``deployed`` event as its last
statement. A move to what the environment already serves is no move: nothing is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from agents_core.environments.repository import (
    EnvironmentRepository,
    EnvironmentRow,
    MovePage,
    Target,
)
from agents_core.errors import (
    AgentNotFound,
    EnvironmentNameTaken,
    EnvironmentNotFound,
    InvalidEnvironment,
    InvalidInput,
    InvalidRelease,
    NothingToRollBack,
    NotInHistory,
    RevisionMismatch,
)
from agents_core.events.repository import Event, EventRepository
from agents_core.schemas import (
    ENVIRONMENT_NAME,
    ENVIRONMENT_NAME_PATTERN,
    AgentEventKind,
    Environment,
    EnvironmentPut,
    FieldError,
    ReleasedAgent,
)
from agents_core.service import Service

__all__ = ["EnvironmentService", "check_name"]


def check_name(name: str) -> None:
    """An environment's name must match :data:`~agents_core.schemas.ENVIRONMENT_NAME_PATTERN`."""
    if ENVIRONMENT_NAME.fullmatch(name) is None:
        raise InvalidInput(
            f"{name[:80]!r} is not a valid environment name",
            errors=[FieldError(field="name", message=f"must match {ENVIRONMENT_NAME_PATTERN}")],
        )


def _check_revision(current: EnvironmentRow | None, expected: int | None) -> None:
    if expected is None:
        return
    if current is None:
        raise RevisionMismatch(f"The environment does not exist, so it is not at {expected}")
    if current.revision != expected:
        raise RevisionMismatch(f"The environment is at revision {current.revision}, not {expected}")


class EnvironmentService(Service):
    """Environments of an organization, on one connection."""

    environments: EnvironmentRepository
    events: EventRepository

    # -- reads --------------------------------------------------------------------------------

    async def list(self, organization_id: UUID) -> list[Environment]:
        return [row.public() for row in await self.environments.all(organization_id)]

    async def get(self, organization_id: UUID, name: str) -> Environment:
        return (await self.environments.get(organization_id, name)).public()

    async def history(
        self, organization_id: UUID, name: str, *, limit: int = 100, offset: int = 0
    ) -> MovePage:
        return await self.environments.history(organization_id, name, limit=limit, offset=offset)

    async def resolve(
        self, organization_id: UUID, name: str, agent_id: UUID, *, call_id: str | None = None
    ) -> ReleasedAgent:
        """The agent as the release serving the call ``call_id`` pins it. One round trip."""
        served = await self.environments.serving(organization_id, name, agent_id)
        release = served.serving.release_for(name, call_id)
        member = served.members.get(release)
        if member is None:
            raise AgentNotFound(f"The agent is not in release {release}")
        return member.released(release)

    # -- moves --------------------------------------------------------------------------------

    async def put(
        self,
        organization_id: UUID,
        name: str,
        data: EnvironmentPut,
        *,
        expected_revision: int | None = None,
        actor_id: UUID | None = None,
    ) -> tuple[Environment, bool]:
        """Point the environment (created if new) at a release and an optional canary. Returns
        it and whether it was created."""
        check_name(name)
        canary = data.canary
        target = Target(
            data.release,
            None if canary is None else canary.release,
            None if canary is None else canary.weight,
        )
        async with self.conn.transaction():
            existing = await self.environments.existing_releases(
                organization_id, [target.release, *([canary.release] if canary else [])]
            )
            bad = [
                FieldError(field=field, message=f"release {number} does not exist")
                for field, number in (
                    ("release", target.release),
                    ("canary.release", target.canary_release),
                )
                if number is not None and number not in existing
            ]
            if bad:
                raise InvalidRelease("; ".join(f"{e.field}: {e.message}" for e in bad), errors=bad)
            return await self._move(
                organization_id, name, target, expected_revision, actor_id, create=True
            )

    async def promote(
        self,
        organization_id: UUID,
        name: str,
        source: str,
        *,
        expected_revision: int | None = None,
        actor_id: UUID | None = None,
    ) -> tuple[Environment, bool]:
        """Point the environment (created if new) at the release ``source`` serves, without a
        canary. Returns it and whether it was created."""
        check_name(name)
        async with self.conn.transaction():
            found = await self.environments.find(organization_id, source)
            if found is None:
                raise InvalidEnvironment(
                    f"There is no environment named {source[:80]!r} to promote from",
                    errors=[FieldError(field="from", message="no such environment")],
                )
            return await self._move(
                organization_id,
                name,
                Target(found.release),
                expected_revision,
                actor_id,
                create=True,
            )

    async def rollback(
        self,
        organization_id: UUID,
        name: str,
        release: int | None = None,
        *,
        expected_revision: int | None = None,
        actor_id: UUID | None = None,
    ) -> Environment:
        """Back to ``release`` (one the environment served before), or without it to the
        release it served before its current one; the canary is cleared either way."""
        async with self.conn.transaction():
            current = await self.environments.get(organization_id, name, lock=True)
            _check_revision(current, expected_revision)
            if release is None:
                release = await self.environments.previous_release(current.id, current.release)
                if release is None:
                    raise NothingToRollBack()
            elif not await self.environments.served(current.id, release):
                raise NotInHistory(
                    f"The environment never served release {release}",
                    errors=[FieldError(field="release", message="not in this history")],
                )
            environment, _ = await self._apply(
                organization_id, name, current, Target(release), actor_id
            )
        return environment

    async def delete(
        self,
        organization_id: UUID,
        name: str,
        *,
        expected_revision: int | None = None,
        actor_id: UUID | None = None,
    ) -> None:
        """Delete the environment and its history (an ``undeployed`` event tells workers)."""
        async with self.conn.transaction():
            current = await self.environments.get(organization_id, name, lock=True)
            _check_revision(current, expected_revision)
            await self.environments.delete(current.id)
            await self.events.record(
                [
                    Event(
                        organization_id,
                        None,
                        current.revision,
                        AgentEventKind.UNDEPLOYED,
                        environment=name,
                    )
                ],
                actor_id=actor_id,
            )

    async def _move(
        self,
        organization_id: UUID,
        name: str,
        target: Target,
        expected_revision: int | None,
        actor_id: UUID | None,
        *,
        create: bool,
    ) -> tuple[Environment, bool]:
        current = await self.environments.find(organization_id, name, lock=True)
        if current is None and create:
            _check_revision(None, expected_revision)
            try:
                # A savepoint: if another process created it first, only the insert is undone,
                # and this one moves it instead.
                async with self.conn.transaction():
                    created = await self.environments.insert(
                        organization_id,
                        name,
                        target,
                        actor_id=actor_id,
                        now=datetime.now(UTC),
                        environment_id=uuid4(),
                    )
            except EnvironmentNameTaken:
                current = await self.environments.find(organization_id, name, lock=True)
            else:
                await self._recorded(organization_id, created, None, actor_id)
                return created.public(), True
        if current is None:
            raise EnvironmentNotFound()
        _check_revision(current, expected_revision)
        return await self._apply(organization_id, name, current, target, actor_id)

    async def _apply(
        self,
        organization_id: UUID,
        name: str,
        current: EnvironmentRow,
        target: Target,
        actor_id: UUID | None,
    ) -> tuple[Environment, bool]:
        if current.target == target:
            return current.public(), False
        moved = await self.environments.move(
            current, target, actor_id=actor_id, now=datetime.now(UTC)
        )
        await self._recorded(organization_id, moved, current.release, actor_id)
        return moved.public(), False

    async def _recorded(
        self,
        organization_id: UUID,
        moved: EnvironmentRow,
        previous_release: int | None,
        actor_id: UUID | None,
    ) -> None:
        await self.environments.record_move(moved, previous_release, actor_id=actor_id)
        await self.events.record(
            [
                Event(
                    organization_id,
                    None,
                    moved.revision,
                    AgentEventKind.DEPLOYED,
                    release=moved.release,
                    environment=moved.name,
                )
            ],
            actor_id=actor_id,
        )
