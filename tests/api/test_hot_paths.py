"""The fast read path stays correct: the same answers as the service layer, a fixed number of
statements per request.

Reads on PostgreSQL skip the ORM (one compiled statement on the asyncpg connection straight into
the wire types); these tests hold them to what the ORM says of the same rows, field by field,
and to their statement budget.
"""

from __future__ import annotations

import time
from typing import Any
from uuid import UUID

import httpx
import msgspec
import pytest
from sqlalchemy import select

from agents_api.security import VerifiedTokens
from agents_api.tokens import TokenCodec
from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.db.models import Agent
from agents_core.schemas import AgentModality, AgentPublic, AgentUpdate, PanelType
from tests.conftest import (
    SECRET,
    Account,
    CreateAgent,
    acting,
    add_member,
    counting_statements,
    orm_session,
)

FIELDS = AgentPublic.__struct_fields__


def wire(agent: AgentPublic) -> dict[str, Any]:
    """What the service layer's view of an agent looks like as JSON."""
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(agent))
    return data


async def orm_agent(database: Database, agent_id: str) -> AgentPublic:
    """The agent as the ORM loads it: an oracle independent of the compiled statements."""
    async with orm_session(database) as session:
        row = (await session.scalars(select(Agent).where(Agent.id == UUID(agent_id)))).one()
        return AgentPublic(
            id=row.id,
            organization_id=row.organization_id,
            name=row.name,
            instructions=row.instructions,
            model=row.model,
            voice=row.voice,
            handoff_targets=list(row.handoff_targets),
            tools=list(row.tools),
            modality=AgentModality(row.modality),
            panels=[PanelType(p) for p in row.panels],
            is_active=row.is_active,
            current_version=row.current_version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def assert_same_agent(api: dict[str, Any], service: AgentPublic) -> None:
    expected = wire(service)
    assert set(api) == set(FIELDS)
    for field in FIELDS:
        assert api[field] == expected[field], field


@pytest.fixture
async def varied_agents(create_agent: CreateAgent) -> list[dict[str, Any]]:
    """Agents with every kind of value: nulls, empty and full lists, long text, non-ASCII."""
    first = await create_agent(instructions="Short.", voice=None)
    second = await create_agent(
        instructions="Ünïcødé ✓ " + "x" * 20_000,
        model="gpt-4.1",
        voice="alloy",
        tools=["lookup_order", "transfer_call"],
        panels=["notepad", "whiteboard"],
        modality="audio_screenshare",
    )
    third = await create_agent(
        handoff_targets=[first["id"], second["id"]],
        tools=["search_kb"],
        modality="audio_camera",
        panels=["coding_ide"],
    )
    return [first, second, third]


async def test_get_agent_matches_the_service_layer(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    varied_agents: list[dict[str, Any]],
) -> None:
    for created in varied_agents:
        response = await client.get(f"/api/v1/agents/{created['id']}", headers=admin.headers)
        assert response.status_code == 200
        service = await orm_agent(database, created["id"])
        assert_same_agent(response.json(), service)
        assert response.headers["etag"] == f'"{service.current_version}"'
        # The create response (ORM path) and the read (driver path) agree too.
        assert response.json() == created


async def test_list_matches_the_service_layer_in_order(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    varied_agents: list[dict[str, Any]],
) -> None:
    response = await client.get("/api/v1/agents", params={"limit": 100}, headers=admin.headers)
    assert response.status_code == 200
    listed = response.json()
    assert response.headers["x-total-count"] == str(len(varied_agents))
    # Newest first: the reverse of creation order.
    assert [a["id"] for a in listed] == [a["id"] for a in reversed(varied_agents)]
    for item in listed:
        assert_same_agent(item, await orm_agent(database, item["id"]))


async def test_put_response_and_next_read_match_the_service_layer(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    varied_agents: list[dict[str, Any]],
) -> None:
    target = varied_agents[2]
    response = await client.put(
        f"/api/v1/agents/{target['id']}",
        json={"voice": "sage", "tools": ["a", "b"], "panels": []},
        headers=admin.headers,
    )
    assert response.status_code == 200, response.text
    service = await orm_agent(database, target["id"])
    assert service.current_version == 2
    assert_same_agent(response.json(), service)
    read = await client.get(f"/api/v1/agents/{target['id']}", headers=admin.headers)
    assert_same_agent(read.json(), service)


async def test_service_update_is_seen_by_the_fast_read(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    varied_agents: list[dict[str, Any]],
) -> None:
    target = varied_agents[0]
    async with acting(database, admin.organization_id, transaction=True) as scope:
        updated = await AgentService(scope).update(
            UUID(target["id"]),
            msgspec.convert({"instructions": "Changed by a service."}, AgentUpdate),
        )
    response = await client.get(f"/api/v1/agents/{target['id']}", headers=admin.headers)
    assert_same_agent(response.json(), updated)


async def statements_for(database: Database, request: Any) -> tuple[httpx.Response, int]:
    with counting_statements(database) as count:
        response = await request
    return response, count.value


async def test_statements_per_read_request(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    create_agent: CreateAgent,
) -> None:
    agent = await create_agent()
    headers = admin.headers
    path = f"/api/v1/agents/{agent['id']}"

    response, count = await statements_for(database, client.get(path, headers=headers))
    assert response.status_code == 200
    assert count == 2  # the user, the agent

    response, count = await statements_for(
        database, client.get(path, headers={**headers, "If-None-Match": '"1"'})
    )
    assert response.status_code == 304
    assert count == 2

    response, count = await statements_for(
        database, client.get("/api/v1/agents", params={"limit": 100}, headers=headers)
    )
    assert response.status_code == 200
    assert count == 2  # the user, the page with its total

    response, count = await statements_for(
        database,
        client.get("/api/v1/agents/00000000-0000-0000-0000-000000000000", headers=headers),
    )
    assert response.status_code == 404
    assert count == 2


async def test_statements_per_write_request(
    client: httpx.AsyncClient,
    admin: Account,
    database: Database,
    create_agent: CreateAgent,
) -> None:
    """A versioned PUT runs on the connection authentication checked out: a fixed number of
    statements, whatever changes."""
    target = await create_agent()
    agent = await create_agent(instructions="Long. " * 5_000)
    path = f"/api/v1/agents/{agent['id']}"

    async def put(body: dict[str, Any]) -> tuple[httpx.Response, int]:
        return await statements_for(database, client.put(path, json=body, headers=admin.headers))

    response, count = await put({"voice": "nova"})
    assert response.status_code == 200, response.text
    # the user, the lock, the saved version, the update, the event (with its ordering lock)
    assert count == 5
    assert_same_agent(response.json(), await orm_agent(database, agent["id"]))
    assert response.json()["instructions"] == agent["instructions"]

    response, count = await put({"handoff_targets": [target["id"]]})
    assert response.status_code == 200, response.text
    assert count == 6  # and the share lock on the targets

    response, count = await put({"voice": "nova"})
    assert response.status_code == 200
    assert response.json()["current_version"] == 3
    assert count == 2  # nothing changed: the user and the lock, no version


async def test_statements_with_an_api_key(
    client: httpx.AsyncClient, admin: Account, database: Database, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    created = await client.post(
        "/api/v1/api-keys", json={"name": "worker", "role": "member"}, headers=admin.headers
    )
    assert created.status_code == 201
    headers = {"Authorization": f"Bearer {created.json()['key']}"}
    response, count = await statements_for(
        database, client.get(f"/api/v1/agents/{agent['id']}", headers=headers)
    )
    assert response.status_code == 200
    assert count == 2


async def test_no_statement_for_a_bad_token(client: httpx.AsyncClient, database: Database) -> None:
    response, count = await statements_for(
        database, client.get("/api/v1/agents", headers={"Authorization": "Bearer not-a-jwt"})
    )
    assert response.status_code == 401
    assert count == 0


async def test_a_remembered_token_still_sees_the_users_current_state(
    client: httpx.AsyncClient, admin: Account
) -> None:
    member = await add_member(client, admin)
    assert (await client.get("/api/v1/agents", headers=member.headers)).status_code == 200
    deactivated = await client.patch(
        f"/api/v1/users/{member.user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert deactivated.status_code == 200
    assert (await client.get("/api/v1/agents", headers=member.headers)).status_code == 401


def test_verified_tokens_check_signature_and_expiry() -> None:
    codec = TokenCodec(SECRET, 3600)
    verified = VerifiedTokens(max_entries=2)
    user = UUID("11111111-1111-1111-1111-111111111111")
    token = codec.issue(user, user)
    assert verified.user_id(token, codec) == user
    assert verified.user_id(token, codec) == user  # remembered

    # A forged signature on the same claims is not taken for the remembered token.
    header, payload, _ = token.split(".")
    assert verified.user_id(f"{header}.{payload}.AAAA", codec) is None
    # Another key does not accept it.
    assert VerifiedTokens().user_id(token, TokenCodec("another-key-" + "y" * 32, 3600)) is None

    # An expired token is refused, and a remembered one stops working at its expiry.
    expired = TokenCodec(SECRET, -10).issue(user, user)
    assert verified.user_id(expired, codec) is None
    verified._entries[token] = (user, time.time() - 1)
    other = TokenCodec("another-key-" + "y" * 32, 3600)
    assert verified.user_id(token, other) is None

    # Bounded: it never holds more than max_entries.
    for n in range(5):
        verified.user_id(codec.issue(UUID(int=n + 1), user), codec)
    assert len(verified._entries) <= 2
