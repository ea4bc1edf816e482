"""Every configuration field reaches every agent shape and survives every round trip.

The test enumerates ``AgentConfig``'s fields: a field added there without a sample value here,
or dropped by any shape, statement or conversion, fails it.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import msgspec

from agents_core.db.database import Database
from agents_core.runtime import AgentCatalog, AgentDefinition
from agents_core.schemas import (
    CONFIG_FIELDS,
    AgentConfig,
    AgentCreate,
    AgentExport,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    PanelType,
)
from tests.conftest import Account, CreateAgent, signup

# A value for each field, none of them its default (so that a field that falls back to its
# default somewhere is caught). Handoff targets are filled in per test with real agents.
FIRST: dict[str, Any] = {
    "name": "Configured",
    "instructions": "First instructions, not the default ones.",
    "model": "gpt-4.1",
    "voice": "alloy",
    "handoff_targets": None,
    "tools": ["lookup", "escalate"],
    "modality": AgentModality.AUDIO_SCREENSHARE.value,
    "panels": [PanelType.CODING_IDE.value, PanelType.NOTEPAD.value],
}
SECOND: dict[str, Any] = {
    "name": "Reconfigured",
    "instructions": "Second instructions.",
    "model": "gpt-4.1-nano",
    "voice": "verse",
    "handoff_targets": None,
    "tools": ["search"],
    "modality": AgentModality.AUDIO_CAMERA.value,
    "panels": [PanelType.WHITEBOARD.value],
}


def test_every_shape_has_every_configuration_field() -> None:
    assert set(FIRST) == set(SECOND) == set(CONFIG_FIELDS)
    for shape in (AgentCreate, AgentUpdate, AgentExport, AgentPublic, AgentDefinition):
        missing = set(CONFIG_FIELDS) - set(shape.__struct_fields__)
        assert not missing, f"{shape.__name__} lacks {missing}"
    snapshot = msgspec.structs.fields(AgentVersionPublic)
    assert next(f for f in snapshot if f.name == "snapshot").type is AgentConfig


def config_of(data: dict[str, Any]) -> dict[str, Any]:
    return {name: data[name] for name in CONFIG_FIELDS}


def definition_config(definition: AgentDefinition) -> dict[str, Any]:
    data: dict[str, Any] = msgspec.to_builtins(definition.config())
    return data


async def test_every_field_survives_create_update_version_export_import_and_runtime(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    expert = await create_agent(name="Expert")
    helper = await create_agent(name="Helper")
    first = {**FIRST, "handoff_targets": [expert["id"]]}
    second = {**SECOND, "handoff_targets": [helper["id"], expert["id"]]}

    created = await client.post("/api/v1/agents", json=first, headers=admin.headers)
    assert created.status_code == 201, created.text
    agent = created.json()
    assert config_of(agent) == first
    path = f"/api/v1/agents/{agent['id']}"
    assert config_of((await client.get(path, headers=admin.headers)).json()) == first

    updated = await client.put(path, json=second, headers=admin.headers)
    assert updated.status_code == 200, updated.text
    assert config_of(updated.json()) == second
    version = (await client.get(f"{path}/versions/1", headers=admin.headers)).json()
    assert version["snapshot"] == first

    # Export writes the targets by name; an import into another organization resolves them.
    exported = (await client.get("/api/v1/agents/export", headers=admin.headers)).json()
    portable = next(item for item in exported if item["name"] == second["name"])
    assert set(portable) == set(CONFIG_FIELDS)
    assert portable == {**second, "handoff_targets": ["Helper", "Expert"]}
    other = await signup(client)
    imported = await client.post(
        "/api/v1/agents/import", json={"agents": exported}, headers=other.headers
    )
    assert imported.status_code == 200, imported.text
    by_name = {a["name"]: a for a in imported.json()["agents"]}
    copy = by_name[second["name"]]
    assert config_of(copy) == {
        **second,
        "handoff_targets": [by_name["Helper"]["id"], by_name["Expert"]["id"]],
    }

    # The runtime definition, current and at the saved version.
    async with AgentCatalog.open(database) as catalog:
        organization = admin.organization_id
        current = await catalog.get(organization, uuid.UUID(agent["id"]))
        pinned = await catalog.get_version(organization, uuid.UUID(agent["id"]), 1)
    assert definition_config(current) == second
    assert definition_config(pinned) == first
    assert [h.name for h in current.handoffs] == ["Helper", "Expert"]
