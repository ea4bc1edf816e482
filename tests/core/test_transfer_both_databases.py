"""Import, export and duplicate through the core, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.errors import InvalidHandoffTargets
from agents_core.schemas import AgentExport, AgentModality, PanelType
from tests.core.conftest import new_org

BATCH = [
    AgentExport(
        name="Triage",
        instructions="Route the caller.",
        handoff_targets=["Coder", "Billing"],
        tools=["lookup"],
    ),
    AgentExport(
        name="Coder",
        instructions="Help with code.",
        modality=AgentModality.AUDIO_SCREENSHARE,
        panels=[PanelType.CODING_IDE],
        handoff_targets=["Triage"],
    ),
    AgentExport(name="Billing", instructions="Invoices.", voice="alloy"),
]


async def test_import_export_round_trip_and_duplicate(db: Database) -> None:
    source = await new_org(db)
    async with db.connect() as conn:
        result = await AgentService(conn).import_agents(source, BATCH)
    assert (result.created, result.skipped) == (3, 0)
    by_name = {a.name: a for a in result.agents}
    assert by_name["Triage"].handoff_targets == [by_name["Coder"].id, by_name["Billing"].id]
    assert by_name["Coder"].handoff_targets == [by_name["Triage"].id]

    async with db.connect() as conn:
        exported = await AgentService(conn).export(source)
    target = await new_org(db)
    async with db.connect() as conn:
        again = await AgentService(conn).import_agents(target, exported)
    async with db.connect() as conn:
        round_trip = await AgentService(conn).export(target)
    assert again.created == 3
    assert sorted(round_trip, key=lambda a: a.name) == sorted(exported, key=lambda a: a.name)

    # A second import of the same batch skips every name; a dry run writes nothing.
    async with db.connect() as conn:
        repeat = await AgentService(conn).import_agents(target, exported)
        dry = await AgentService(conn).import_agents(
            target, [AgentExport(name="New one", instructions="x")], dry_run=True
        )
    assert (repeat.created, repeat.skipped) == (0, 3)
    assert (dry.created, dry.agents) == (1, [])
    async with db.connect() as conn:
        assert (await AgentService(conn).page(target)).total == 3

    async with db.transaction() as conn:
        triage = next(a for a in again.agents if a.name == "Triage")
        copy = await AgentService(conn).duplicate(target, triage.id)
        second = await AgentService(conn).duplicate(target, triage.id)
    assert (copy.name, second.name) == ("Triage (Copy)", "Triage (Copy 2)")
    assert copy.handoff_targets == triage.handoff_targets
    assert copy.current_version == 1


async def test_bad_batch_creates_nothing(db: Database) -> None:
    org = await new_org(db)
    batch = [*BATCH, AgentExport(name="Lost", instructions="x", handoff_targets=["Nobody"])]
    async with db.connect() as conn:
        with pytest.raises(InvalidHandoffTargets) as caught:
            await AgentService(conn).import_agents(org, batch)
    assert [e.field for e in caught.value.errors or []] == ["agents[3].handoff_targets[0]"]
    async with db.connect() as conn:
        assert (await AgentService(conn).page(org)).total == 0
