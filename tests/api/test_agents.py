"""Agent CRUD over HTTP: every row and error code of API.md's Agents table (issue 3 part)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateAgent, add_member, agent_body, signup

FULL = {
    "name": "Support Agent",
    "instructions": "Help callers with their orders.",
    "model": "gpt-4.1",
    "voice": "alloy",
    "tools": ["lookup_order", "refund"],
    "modality": "audio_screenshare",
    "panels": ["notepad", "coding_ide"],
}


async def test_create_returns_agent_with_headers(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post("/api/v1/agents", json=FULL, headers=admin.headers)
    assert response.status_code == 201
    agent = response.json()
    assert response.headers["location"] == f"/api/v1/agents/{agent['id']}"
    assert response.headers["etag"] == '"1"'
    assert {k: agent[k] for k in FULL} == FULL
    assert agent["organization_id"] == str(admin.organization_id)
    assert agent["handoff_targets"] == []
    assert agent["is_active"] is True
    assert agent["current_version"] == 1
    assert agent["created_at"].endswith("Z") or agent["created_at"].endswith("+00:00")
    assert set(agent) == {
        "id",
        "organization_id",
        "name",
        "instructions",
        "model",
        "voice",
        "handoff_targets",
        "tools",
        "modality",
        "panels",
        "is_active",
        "current_version",
        "created_at",
        "updated_at",
    }


async def test_create_defaults(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/agents",
        json={
            "name": "Minimal",
            "instructions": "x",
            "model": None,
            "tools": None,
            "panels": None,
            "handoff_targets": None,
        },
        headers=admin.headers,
    )
    assert response.status_code == 201
    agent = response.json()
    assert agent["model"] == "gpt-4.1-mini"
    assert agent["voice"] is None
    assert agent["modality"] == "audio_only"
    assert (agent["tools"], agent["panels"], agent["handoff_targets"]) == ([], [], [])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "n" * 256}, "name"),
        ({"instructions": ""}, "instructions"),
        ({"instructions": " \n\t "}, "instructions"),
        ({"instructions": "i" * 100_001}, "instructions"),
        ({"modality": "video"}, "modality"),
        ({"panels": ["notepad", "notepad"]}, "panels[1]"),
        ({"panels": ["chat"]}, "panels[0]"),
        ({"tools": ["a", "b", "a"]}, "tools[2]"),
        ({"tools": [" "]}, "tools[0]"),
        ({"tools": ["t" * 256]}, "tools[0]"),
        ({"handoff_targets": ["not-a-uuid"]}, "handoff_targets[0]"),
        ({"id": str(uuid.uuid4())}, "id"),
        ({"organization_id": str(uuid.uuid4())}, "organization_id"),
        ({"is_active": False}, "is_active"),
        ({"current_version": 7}, "current_version"),
        ({"created_at": "2024-01-01T00:00:00Z"}, "created_at"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_create_validation(
    client: httpx.AsyncClient, admin: Account, overrides: dict[str, Any], field: str
) -> None:
    response = await client.post(
        "/api/v1/agents", json=agent_body(**overrides), headers=admin.headers
    )
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert [e["field"] for e in problem["errors"]] == [field]
    listed = await client.get("/api/v1/agents", headers=admin.headers)
    assert listed.json() == []


async def test_max_sizes_are_accepted(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/agents",
        json=agent_body(name="n" * 255, instructions="i" * 100_000),
        headers=admin.headers,
    )
    assert response.status_code == 201


async def test_name_unique_among_active_case_insensitive(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    first = await create_agent(name="Triage")
    response = await client.post(
        "/api/v1/agents", json=agent_body(name="tRIAGE"), headers=admin.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "agent_name_taken"
    # Another organization may use the name.
    other = await signup(client)
    await create_agent(account=other, name="Triage")
    # Once the first is deleted, the name is free again.
    assert (
        await client.delete(f"/api/v1/agents/{first['id']}", headers=admin.headers)
    ).status_code == 204
    await create_agent(name="TRIAGE")


async def test_concurrent_creates_with_one_name_one_wins(
    client: httpx.AsyncClient, admin: Account
) -> None:
    responses = await asyncio.gather(
        *[
            client.post("/api/v1/agents", json=agent_body(name="Racer"), headers=admin.headers)
            for _ in range(5)
        ]
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409, 409]


async def test_list_only_active_own_newest_first_with_total(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    other = await signup(client)
    await create_agent(account=other, name="Foreign")
    created = [await create_agent(name=f"Agent {i}") for i in range(4)]
    await client.delete(f"/api/v1/agents/{created[1]['id']}", headers=admin.headers)
    response = await client.get("/api/v1/agents", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["x-total-count"] == "3"
    assert [a["name"] for a in response.json()] == ["Agent 3", "Agent 2", "Agent 0"]
    assert response.json()[0] == created[3]


async def test_list_paging(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    for i in range(5):
        await create_agent(name=f"Page {i}")
    page = await client.get("/api/v1/agents?limit=2&offset=1", headers=admin.headers)
    assert [a["name"] for a in page.json()] == ["Page 3", "Page 2"]
    assert page.headers["x-total-count"] == "5"
    beyond = await client.get("/api/v1/agents?limit=2&offset=10", headers=admin.headers)
    assert beyond.json() == []
    assert beyond.headers["x-total-count"] == "5"


async def test_list_filters(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent(name="Sales Bot", tools=["crm"], modality="audio_camera")
    await create_agent(name="support BOT", tools=["crm", "tickets"])
    await create_agent(name="100%_literal", tools=["tickets"])

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/v1/agents?{query}", headers=admin.headers)
        assert response.status_code == 200
        assert response.headers["x-total-count"] == str(len(response.json()))
        return sorted(a["name"] for a in response.json())

    assert await names("q=bot") == ["Sales Bot", "support BOT"]
    assert await names("q=BOT&tool=tickets") == ["support BOT"]
    assert await names("tool=crm") == ["Sales Bot", "support BOT"]
    assert await names("modality=audio_camera") == ["Sales Bot"]
    assert await names("modality=audio_only&tool=crm") == ["support BOT"]
    # LIKE wildcards in q are literal characters.
    assert await names("q=0%25_") == ["100%_literal"]
    assert await names("q=_") == ["100%_literal"]
    assert await names("tool=nothing") == []


async def test_get_with_etag_and_if_none_match(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    response = await client.get(url, headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    cached = await client.get(url, headers={**admin.headers, "If-None-Match": '"1"'})
    assert cached.status_code == 304
    assert cached.content == b""
    stale = await client.get(url, headers={**admin.headers, "If-None-Match": '"0"'})
    assert stale.status_code == 200
    assert stale.json() == agent


async def test_foreign_deleted_missing_agents_are_404_on_every_route(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    other = await signup(client)
    foreign = await create_agent(account=other)
    deleted = await create_agent()
    await client.patch(
        f"/api/v1/agents/{deleted['id']}", json={"name": "Deleted one"}, headers=admin.headers
    )
    await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    routes = [
        ("GET", ""),
        ("PUT", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/versions"),
        ("GET", "/versions/1"),
        ("POST", "/versions/1/restore"),
        ("POST", "/duplicate"),
    ]
    for agent_id in (foreign["id"], deleted["id"], str(uuid.uuid4())):
        for method, suffix in routes:
            body = {"voice": "x"} if method in {"PUT", "PATCH"} else None
            response = await client.request(
                method, f"/api/v1/agents/{agent_id}{suffix}", json=body, headers=admin.headers
            )
            assert response.status_code == 404, (method, suffix, response.text)
            assert response.json()["code"] == "agent_not_found"
    # The foreign agent is untouched.
    still = await client.get(f"/api/v1/agents/{foreign['id']}", headers=other.headers)
    assert still.json() == foreign


async def test_member_reads_but_cannot_write(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    member = await add_member(client, admin)
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    for path in ("/api/v1/agents", url, f"{url}/versions"):
        assert (await client.get(path, headers=member.headers)).status_code == 200
    writes = [
        ("POST", "/api/v1/agents", agent_body()),
        ("PUT", url, {"name": "x"}),
        ("PATCH", url, {"name": "x"}),
        ("DELETE", url, None),
        ("POST", f"{url}/versions/1/restore", None),
        ("POST", f"{url}/duplicate", None),
    ]
    for method, path, body in writes:
        response = await client.request(method, path, json=body, headers=member.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "forbidden"
    assert (await client.get(url, headers=admin.headers)).json() == agent
