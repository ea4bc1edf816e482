"""POST /api/v1/agents/{id}/duplicate."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import func, select

from agents_core.agents.service import copy_name
from agents_core.db.database import Database
from agents_core.db.models import AgentEventRow, AgentVersion
from tests.conftest import Account, CreateAgent, add_member, orm_session, signup

CONFIG = ("instructions", "model", "voice", "handoff_targets", "tools", "modality", "panels")


async def duplicate(client: httpx.AsyncClient, account: Account, agent_id: str) -> httpx.Response:
    return await client.post(f"/api/v1/agents/{agent_id}/duplicate", headers=account.headers)


async def test_copy_has_the_source_configuration_and_no_history(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    expert = await create_agent(name="Expert")
    source = await create_agent(
        name="Support",
        instructions="Greet the caller, then help.",
        model="gpt-4.1",
        voice="alloy",
        tools=["search", "calendar"],
        handoff_targets=[expert["id"]],
        modality="audio_screenshare",
        panels=["coding_ide", "notepad"],
    )
    # Give the source some history, which the copy must not inherit.
    changed = await client.patch(
        f"/api/v1/agents/{source['id']}", json={"voice": "verse"}, headers=admin.headers
    )
    assert changed.status_code == 200
    source = changed.json()
    assert source["current_version"] == 2

    response = await duplicate(client, admin, source["id"])
    assert response.status_code == 201, response.text
    copy = response.json()
    assert response.headers["location"] == f"/api/v1/agents/{copy['id']}"
    assert response.headers["etag"] == '"1"'
    assert copy["name"] == "Support (Copy)"
    assert copy["id"] != source["id"]
    assert copy["organization_id"] == str(admin.organization_id)
    assert copy["current_version"] == 1
    assert copy["is_active"] is True
    for field in CONFIG:
        assert copy[field] == source[field], field

    fetched = await client.get(f"/api/v1/agents/{copy['id']}", headers=admin.headers)
    assert fetched.json() == copy
    versions = await client.get(f"/api/v1/agents/{copy['id']}/versions", headers=admin.headers)
    assert versions.status_code == 200
    assert versions.json() == []
    source_versions = await client.get(
        f"/api/v1/agents/{source['id']}/versions", headers=admin.headers
    )
    assert [v["version"] for v in source_versions.json()] == [1]

    async with orm_session(database) as session:
        copy_id = uuid.UUID(copy["id"])
        stored_versions = await session.scalar(
            select(func.count()).select_from(AgentVersion).where(AgentVersion.agent_id == copy_id)
        )
        kinds = (
            await session.scalars(
                select(AgentEventRow.kind).where(AgentEventRow.agent_id == copy_id)
            )
        ).all()
    assert stored_versions == 0
    assert kinds == ["duplicated"]


async def test_repeated_duplication_numbers_the_copies(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    source = await create_agent(name="Tutor")
    names = []
    for _ in range(4):
        response = await duplicate(client, admin, source["id"])
        assert response.status_code == 201, response.text
        names.append(response.json()["name"])
    assert names == ["Tutor (Copy)", "Tutor (Copy 2)", "Tutor (Copy 3)", "Tutor (Copy 4)"]

    # A freed name is reused; names are compared case-insensitively.
    copy2 = await client.get("/api/v1/agents", params={"q": "(copy 2)"}, headers=admin.headers)
    [copy2_agent] = copy2.json()
    deleted = await client.delete(f"/api/v1/agents/{copy2_agent['id']}", headers=admin.headers)
    assert deleted.status_code == 204
    again = await duplicate(client, admin, source["id"])
    assert again.json()["name"] == "Tutor (Copy 2)"

    # A copy of a copy gets its own suffix.
    copy_of_copy = await duplicate(client, admin, again.json()["id"])
    assert copy_of_copy.json()["name"] == "Tutor (Copy 2) (Copy)"


async def test_names_taken_in_other_case_are_skipped(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    source = await create_agent(name="Coach")
    await create_agent(name="COACH (copy)")
    response = await duplicate(client, admin, source["id"])
    assert response.json()["name"] == "Coach (Copy 2)"


async def test_a_255_character_name_is_cut_to_fit(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    long_name = "N" * 250 + "12345"
    assert len(long_name) == 255
    source = await create_agent(name=long_name)
    first = await duplicate(client, admin, source["id"])
    second = await duplicate(client, admin, source["id"])
    assert first.status_code == second.status_code == 201
    assert first.json()["name"] == "N" * 248 + " (Copy)"
    assert second.json()["name"] == "N" * 246 + " (Copy 2)"
    assert len(first.json()["name"]) == len(second.json()["name"]) == 255


def test_copy_name() -> None:
    assert copy_name("Agent", 1) == "Agent (Copy)"
    assert copy_name("Agent", 12) == "Agent (Copy 12)"
    assert copy_name("x" * 255, 100) == "x" * 244 + " (Copy 100)"
    assert len(copy_name("x" * 255, 100)) == 255


async def test_concurrent_duplicates_get_distinct_names(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    source = await create_agent(name="Busy")
    responses = await asyncio.gather(*(duplicate(client, admin, source["id"]) for _ in range(4)))
    assert [r.status_code for r in responses] == [201] * 4, [r.text for r in responses]
    names = sorted(r.json()["name"] for r in responses)
    assert names == ["Busy (Copy 2)", "Busy (Copy 3)", "Busy (Copy 4)", "Busy (Copy)"]


async def test_deleted_missing_and_foreign_sources_are_not_found(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    other = await signup(client)
    foreign = await create_agent(other, name="Theirs")
    deleted = await create_agent(name="Gone")
    await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    for agent_id in (foreign["id"], deleted["id"], str(uuid.uuid4())):
        response = await duplicate(client, admin, agent_id)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "agent_not_found"
    # Nothing was created in the other organization either.
    theirs = await client.get("/api/v1/agents", headers=other.headers)
    assert [a["name"] for a in theirs.json()] == ["Theirs"]


async def test_member_and_anonymous_may_not_duplicate(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    source = await create_agent()
    member = await add_member(client, admin)
    forbidden = await duplicate(client, member, source["id"])
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    anonymous = await client.post(f"/api/v1/agents/{source['id']}/duplicate")
    assert anonymous.status_code == 401
    listing = await client.get("/api/v1/agents", headers=admin.headers)
    assert len(listing.json()) == 1
