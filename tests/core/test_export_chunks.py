"""The export read a chunk at a time, on PostgreSQL and on SQLite: handoff names resolved across
chunks, from one snapshot, and nothing of the organization's size held."""

from __future__ import annotations

import uuid

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.schemas import AgentExport, AgentUpdate
from tests.conftest import acting
from tests.core.conftest import new_org

# A ring: each agent hands off to the previous one and to the first, so targets sit in earlier
# and later chunks.
RING = [
    AgentExport(
        name=f"Agent {n:02}",
        instructions=f"Agent number {n}.",
        handoff_targets=[f"Agent {(n - 1) % 7:02}", "Agent 00"][: 1 if n < 2 else 2],
    )
    for n in range(7)
]


async def _chunks(db: Database, organization: uuid.UUID, size: int) -> list[list[AgentExport]]:
    async with acting(db, organization) as scope:
        return [chunk async for chunk in AgentService(scope).export_chunks(size)]


async def test_chunks_resolve_names_across_chunks(db: Database) -> None:
    organization = await new_org(db)
    async with acting(db, organization) as scope:
        await AgentService(scope).import_agents(RING)
    chunks = await _chunks(db, organization, 2)
    assert [len(c) for c in chunks] == [2, 2, 2, 1]
    exported = [item for chunk in chunks for item in chunk]
    # One import writes its agents at one instant: the order is then by id.
    assert sorted(exported, key=lambda a: a.name) == RING
    async with acting(db, organization) as scope:
        assert await AgentService(scope).export() == exported
    # An organization without agents exports nothing, and other organizations stay apart.
    assert await _chunks(db, await new_org(db), 2) == []


async def test_a_deleted_target_is_left_out(db: Database) -> None:
    organization = await new_org(db)
    async with acting(db, organization) as scope:
        created = await AgentService(scope).import_agents(
            [
                AgentExport(name="Keep", instructions="x", handoff_targets=["Gone", "Other"]),
                AgentExport(name="Gone", instructions="x"),
                AgentExport(name="Other", instructions="x"),
            ],
        )
        gone = next(a for a in created.agents if a.name == "Gone")
        await AgentService(scope).delete(gone.id, force=True)
    exported = [item for chunk in await _chunks(db, organization, 1) for item in chunk]
    assert {a.name: a.handoff_targets for a in exported} == {"Keep": ["Other"], "Other": []}


async def test_a_rename_during_the_export_is_not_seen(db: Database) -> None:
    """The chunks come from one snapshot: a target renamed after the first chunk was read keeps
    the name it had, so every handoff name is the name of an exported agent."""
    organization = await new_org(db)
    async with acting(db, organization) as scope:
        created = await AgentService(scope).import_agents(RING)
    first_agent = next(a for a in created.agents if a.name == "Agent 00")
    async with acting(db, organization) as reader:
        chunks = AgentService(reader).export_chunks(2)
        exported = list(await anext(chunks))
        async with acting(db, organization) as writer:
            await AgentService(writer).update(first_agent.id, AgentUpdate(name="Renamed meanwhile"))
        exported += [item async for chunk in chunks for item in chunk]
    names = {a.name for a in exported}
    assert "Renamed meanwhile" not in names
    assert all(t in names for a in exported for t in a.handoff_targets or [])
