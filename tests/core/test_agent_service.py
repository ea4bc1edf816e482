"""The agent service without the web layer, on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import secrets
import uuid

import pytest

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.errors import (
    AgentNameTaken,
    AgentNotFound,
    AgentReferenced,
    InvalidHandoffTargets,
    VersionMismatch,
    VersionNotFound,
)
from agents_core.schemas import AgentCreate, AgentModality, AgentUpdate, PanelType
from tests.conftest import acting
from tests.core.conftest import new_org


async def create(db: Database, org: uuid.UUID, **fields: object) -> uuid.UUID:
    data = AgentCreate(**{"name": f"A {secrets.token_hex(3)}", "instructions": "x", **fields})  # type: ignore[arg-type]
    async with acting(db, org, transaction=True) as scope:
        agent = await AgentService(scope).create(data)
    return agent.id


async def test_create_get_list(db: Database) -> None:
    org = await new_org(db)
    target = await create(db, org, name="Target")
    agent_id = await create(
        db,
        org,
        name="Full",
        voice="v",
        tools=["t1", "t2"],
        modality=AgentModality.AUDIO_CAMERA,
        panels=[PanelType.WHITEBOARD],
        handoff_targets=[target],
    )
    async with acting(db, org) as scope:
        agent = await AgentService(scope).get(agent_id)
        page = await AgentService(scope).page(tool="t2")
        everything = await AgentService(scope).page()
    async with acting(db, await new_org(db)) as elsewhere:
        with pytest.raises(AgentNotFound):
            await AgentService(elsewhere).get(agent_id)
    assert agent.handoff_targets == [target]
    assert agent.tools == ["t1", "t2"]
    assert agent.modality is AgentModality.AUDIO_CAMERA
    assert agent.panels == [PanelType.WHITEBOARD]
    assert agent.created_at.tzinfo is not None
    assert [a.id for a in page.items] == [agent_id]
    assert page.total == 1
    assert [a.name for a in everything.items] == ["Full", "Target"]


async def test_update_versions_restore(db: Database) -> None:
    org = await new_org(db)
    agent_id = await create(db, org, name="Versioned", tools=["a"])
    async with acting(db, org, transaction=True) as scope:
        service = AgentService(scope)
        await service.update(agent_id, AgentUpdate(tools=["a", "b"]))
        await service.update(agent_id, AgentUpdate(name="Renamed", voice="nova"))
        same = await service.update(agent_id, AgentUpdate(name="Renamed"))
        assert same.current_version == 3
        with pytest.raises(VersionMismatch):
            await service.update(agent_id, AgentUpdate(name="X"), expected_version=2)
    async with acting(db, org) as scope:
        versions = await AgentService(scope).versions(agent_id)
        first = await AgentService(scope).version(agent_id, 1)
        with pytest.raises(VersionNotFound):
            await AgentService(scope).version(agent_id, 3)
    assert [v.version for v in versions] == [2, 1]
    assert first.snapshot.tools == ["a"]
    assert first.snapshot.name == "Versioned"
    async with acting(db, org, transaction=True) as scope:
        restored = await AgentService(scope).restore(agent_id, 1)
    assert (restored.name, restored.tools, restored.voice, restored.current_version) == (
        "Versioned",
        ["a"],
        None,
        4,
    )


async def test_handoff_rules(db: Database) -> None:
    org = await new_org(db)
    other_org = await new_org(db)
    foreign = await create(db, other_org)
    target = await create(db, org)
    agent_id = await create(db, org, handoff_targets=[target])
    async with acting(db, org, transaction=True) as scope:
        with pytest.raises(InvalidHandoffTargets) as caught:
            await AgentService(scope).update(
                agent_id, AgentUpdate(handoff_targets=[target, agent_id, foreign])
            )
    assert [e.field for e in caught.value.errors or []] == [
        "handoff_targets[1]",
        "handoff_targets[2]",
    ]
    async with acting(db, org, transaction=True) as scope:
        with pytest.raises(AgentReferenced):
            await AgentService(scope).delete(target)
    async with acting(db, org, transaction=True) as scope:
        changed = await AgentService(scope).delete(target, force=True)
    assert changed == [agent_id]
    async with acting(db, org) as scope:
        agent = await AgentService(scope).get(agent_id)
    assert agent.handoff_targets == []
    assert agent.current_version == 2


async def test_names_unique_among_active(db: Database) -> None:
    org = await new_org(db)
    first = await create(db, org, name="Same")
    with pytest.raises(AgentNameTaken):
        await create(db, org, name="SAME")
    async with acting(db, org, transaction=True) as scope:
        await AgentService(scope).delete(first)
    await create(db, org, name="same")


async def test_failed_write_rolls_back_everything(db: Database) -> None:
    org = await new_org(db)
    agent_id = await create(db, org, name="Stable")

    async def write_then_fail() -> None:
        async with acting(db, org, transaction=True) as scope:
            await AgentService(scope).update(agent_id, AgentUpdate(name="Changed"))
            raise RuntimeError("abort after the write")

    with pytest.raises(RuntimeError):
        await write_then_fail()
    async with acting(db, org) as scope:
        agent = await AgentService(scope).get(agent_id)
        versions = await AgentService(scope).versions(agent_id)
    assert (agent.name, agent.current_version, versions) == ("Stable", 1, [])


async def test_concurrent_writers_to_one_agent_all_succeed_in_turn(db: Database) -> None:
    """On PostgreSQL they queue on the row lock; on SQLite on the write lock, which a writing
    transaction takes when it begins (a deferred one would fail at once instead of waiting)."""
    org = await new_org(db)
    agent_id = await create(db, org, name="Busy")

    async def write(n: int) -> None:
        async with acting(db, org) as scope:
            await AgentService(scope).update(agent_id, AgentUpdate(instructions=f"Take {n}."))

    await asyncio.gather(*(write(n) for n in range(10)))
    async with acting(db, org) as scope:
        agent = await AgentService(scope).get(agent_id)
        versions = await AgentService(scope).versions(agent_id)
    assert agent.current_version == 11
    assert [v.version for v in versions] == list(range(10, 0, -1))
