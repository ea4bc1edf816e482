"""Import, export and duplicate through the core, on PostgreSQL and on SQLite."""

from __future__ import annotations

import pytest

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.errors import InvalidHandoffTargets
from agents_core.schemas import AgentExport, AgentModality, PanelType
from tests.conftest import acting
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
    async with acting(db, source) as scope:
        result = await AgentService(scope).import_agents(BATCH)
    assert (result.created, result.skipped) == (3, 0)
    by_name = {a.name: a for a in result.agents}
    assert by_name["Triage"].handoff_targets == [by_name["Coder"].id, by_name["Billing"].id]
    assert by_name["Coder"].handoff_targets == [by_name["Triage"].id]

    async with acting(db, source) as scope:
        exported = await AgentService(scope).export()
    target = await new_org(db)
    async with acting(db, target) as scope:
        again = await AgentService(scope).import_agents(exported)
    async with acting(db, target) as scope:
        round_trip = await AgentService(scope).export()
    assert again.created == 3
    assert sorted(round_trip, key=lambda a: a.name) == sorted(exported, key=lambda a: a.name)

    # A second import of the same batch skips every name; a dry run writes nothing.
    async with acting(db, target) as scope:
        repeat = await AgentService(scope).import_agents(exported)
        dry = await AgentService(scope).import_agents(
            [AgentExport(name="New one", instructions="x")], dry_run=True
        )
    assert (repeat.created, repeat.skipped) == (0, 3)
    assert (dry.created, dry.agents) == (1, [])
    async with acting(db, target) as scope:
        assert (await AgentService(scope).page()).total == 3

    async with acting(db, target, transaction=True) as scope:
        triage = next(a for a in again.agents if a.name == "Triage")
        copy = await AgentService(scope).duplicate(triage.id)
        second = await AgentService(scope).duplicate(triage.id)
    assert (copy.name, second.name) == ("Triage (Copy)", "Triage (Copy 2)")
    assert copy.handoff_targets == triage.handoff_targets
    assert copy.current_version == 1


async def test_bad_batch_creates_nothing(db: Database) -> None:
    org = await new_org(db)
    batch = [*BATCH, AgentExport(name="Lost", instructions="x", handoff_targets=["Nobody"])]
    async with acting(db, org) as scope:
        with pytest.raises(InvalidHandoffTargets) as caught:
            await AgentService(scope).import_agents(batch)
    assert [e.field for e in caught.value.errors or []] == ["agents[3].handoff_targets[0]"]
    async with acting(db, org) as scope:
        assert (await AgentService(scope).page()).total == 0
