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
from agents_core.service import ScopedService

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


class EnvironmentService(ScopedService):
    """Environments of the scope's organization."""

    environments: EnvironmentRepository
    events: EventRepository

    # -- reads --------------------------------------------------------------------------------

    async def list(self) -> list[Environment]:
        return [row.public() for row in await self.environments.all(self.organization_id)]

    async def get(self, name: str) -> Environment:
        return (await self.environments.get(self.organization_id, name)).public()

    async def history(self, name: str, *, limit: int = 100, offset: int = 0) -> MovePage:
        return await self.environments.history(
            self.organization_id, name, limit=limit, offset=offset
        )

    async def resolve(
        self, name: str, agent_id: UUID, *, call_id: str | None = None
    ) -> ReleasedAgent:
        """The agent as the release serving the call ``call_id`` pins it. One round trip."""
        served = await self.environments.serving(self.organization_id, name, agent_id)
        release = served.serving.release_for(name, call_id)
        member = served.members.get(release)
        if member is None:
            raise AgentNotFound(f"The agent is not in release {release}")
        return member.released(release)

    # -- moves --------------------------------------------------------------------------------

    async def put(
        self, name: str, data: EnvironmentPut, *, expected_revision: int | None = None
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
                self.organization_id, [target.release, *([canary.release] if canary else [])]
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
            return await self._move(name, target, expected_revision)

    async def promote(
        self, name: str, source: str, *, expected_revision: int | None = None
    ) -> tuple[Environment, bool]:
        """Point the environment (created if new) at the release ``source`` serves, without a
        canary. Returns it and whether it was created."""
        check_name(name)
        async with self.conn.transaction():
            found = await self.environments.find(self.organization_id, source)
            if found is None:
                raise InvalidEnvironment(
                    f"There is no environment named {source[:80]!r} to promote from",
                    errors=[FieldError(field="from", message="no such environment")],
                )
            return await self._move(name, Target(found.release), expected_revision)

    async def rollback(
        self, name: str, release: int | None = None, *, expected_revision: int | None = None
    ) -> Environment:
        """Back to ``release`` (one the environment served before), or without it to the
        release it served before its current one; the canary is cleared either way."""
        async with self.conn.transaction():
            current = await self._locked(name, expected_revision)
            if release is None:
                release = await self.environments.previous_release(current.id, current.release)
                if release is None:
                    raise NothingToRollBack()
            elif not await self.environments.served(current.id, release):
                raise NotInHistory(
                    f"The environment never served release {release}",
                    errors=[FieldError(field="release", message="not in this history")],
                )
            environment, _ = await self._apply(current, Target(release))
        return environment

    async def delete(self, name: str, *, expected_revision: int | None = None) -> None:
        """Delete the environment and its history (an ``undeployed`` event tells workers)."""
        async with self.conn.transaction():
            current = await self._locked(name, expected_revision)
            await self.environments.delete(current.id)
            await self._record(current, AgentEventKind.UNDEPLOYED, release=None)

    async def _locked(self, name: str, expected_revision: int | None) -> EnvironmentRow:
        """The environment, locked, at the revision ``If-Match`` asks for."""
        current = await self.environments.get(self.organization_id, name, lock=True)
        _check_revision(current, expected_revision)
        return current

    async def _move(
        self, name: str, target: Target, expected_revision: int | None
    ) -> tuple[Environment, bool]:
        """Move the environment, or create it when it is new."""
        current = await self.environments.find(self.organization_id, name, lock=True)
        if current is None:
            _check_revision(None, expected_revision)
            try:
                # A savepoint: if another process created it first, only the insert is undone,
                # and this one moves it instead.
                async with self.conn.transaction():
                    created = await self.environments.insert(
                        self.organization_id,
                        name,
                        target,
                        actor_id=self.actor_id,
                        now=datetime.now(UTC),
                        environment_id=uuid4(),
                    )
            except EnvironmentNameTaken:
                current = await self.environments.find(self.organization_id, name, lock=True)
            else:
                await self._recorded(created, None)
                return created.public(), True
        if current is None:
            raise EnvironmentNotFound()
        _check_revision(current, expected_revision)
        return await self._apply(current, target)

    async def _apply(self, current: EnvironmentRow, target: Target) -> tuple[Environment, bool]:
        if current.target == target:
            return current.public(), False
        moved = await self.environments.move(
            current, target, actor_id=self.actor_id, now=datetime.now(UTC)
        )
        await self._recorded(moved, current.release)
        return moved.public(), False

    async def _recorded(self, moved: EnvironmentRow, previous_release: int | None) -> None:
        await self.environments.record_move(moved, previous_release, actor_id=self.actor_id)
        await self._record(moved, AgentEventKind.DEPLOYED, release=moved.release)

    async def _record(
        self, environment: EnvironmentRow, kind: AgentEventKind, *, release: int | None
    ) -> None:
        """Record what happened to the environment, at its revision (the transaction's last
        statement)."""
        event = Event(
            self.organization_id,
            None,
            environment.revision,
            kind,
            release=release,
            environment=environment.name,
        )
        await self.events.record([event], actor_id=self.actor_id)
