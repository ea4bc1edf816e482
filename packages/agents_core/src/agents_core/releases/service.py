"""The releases aggregate's rules: create (closed under handoff, numbered without gaps), list,
read one, read one member's pinned configuration, compare two.

Numbering. A release's number is one more than the organization's last, read in the insert
while the transaction holds the organization's ordering lock of the event feed
(:meth:`~agents_core.events.repository.EventRepository.lock_order`). That lock exists already
(every release records a ``released`` event, which takes it until commit anyway), serializes
exactly the writers of one organization, and is released at commit or rollback: concurrent
creations take 1, 2, 3 … in turn, and a rolled-back one leaves no gap (a sequence would). A
counter row per organization would do the same with one more table and one more row lock to
keep in step with the feed's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from agents_core.events.repository import Event, EventRepository
from agents_core.releases.closure import plan_members
from agents_core.releases.comparison import MemberPin, compare_releases, pinned_differently
from agents_core.releases.repository import ReleasePage, ReleaseRepository
from agents_core.schemas import (
    AgentConfig,
    AgentEventKind,
    Release,
    ReleaseCreate,
    ReleasedAgent,
    ReleaseDiff,
    ReleaseMember,
)
from agents_core.service import ScopedService

__all__ = ["ReleaseService"]


class ReleaseService(ScopedService):
    """Releases of the scope's organization."""

    releases: ReleaseRepository
    events: EventRepository

    async def create(self, data: ReleaseCreate) -> Release:
        """A new release of the chosen agents (all active ones when none are chosen) and every
        agent they hand off to, directly or not, each at its current version."""
        async with self.conn.transaction():
            active = await self.releases.active_heads(self.organization_id)
            members = plan_members(active, data.agents)
            await self.events.lock_order(self.organization_id)
            row = await self.releases.insert(
                self.organization_id,
                uuid4(),
                message=data.message,
                created_by=self.actor_id,
                members=members,
                now=datetime.now(UTC),
            )
            await self.events.record(
                [
                    Event(
                        self.organization_id,
                        None,
                        row.number,
                        AgentEventKind.RELEASED,
                        release=row.number,
                    )
                ],
                actor_id=self.actor_id,
            )
        return row.with_members(
            [
                ReleaseMember(agent_id=agent_id, name=active[agent_id].name, version=version)
                for agent_id, version in members.items()
            ]
        )

    async def page(self, *, limit: int = 100, offset: int = 0) -> ReleasePage:
        """Releases newest first, and how many there are."""
        return await self.releases.page(self.organization_id, limit=limit, offset=offset)

    async def get(self, number: int) -> Release:
        return (await self.releases.by_numbers(self.organization_id, [number]))[number]

    async def agent(self, number: int, agent_id: UUID) -> ReleasedAgent:
        """One member's configuration as pinned in the release (whatever the agent became)."""
        member = await self.releases.member(self.organization_id, number, agent_id)
        return member.released(number)

    async def diff(self, number: int, base: int) -> ReleaseDiff:
        """What release ``number`` changes against release ``base``."""
        found = await self.releases.by_numbers(self.organization_id, [number, base])

        def pins(release: Release) -> dict[UUID, MemberPin]:
            return {m.agent_id: (m.name, m.version) for m in release.agents}

        base_pins, release_pins = pins(found[base]), pins(found[number])
        differing = pinned_differently(base_pins, release_pins)
        configs: dict[tuple[UUID, int], AgentConfig] = {}
        if differing:
            pinned = await self.releases.pinned(self.organization_id, [number, base], differing)
            for member in pinned.values():
                configs[(member.agent_id, member.version)] = member.pinned()
        return compare_releases(base, number, base_pins, release_pins, configs)
