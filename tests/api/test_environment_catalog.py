"""A worker's catalog and the API agree: moves made over HTTP reach the catalog (PostgreSQL's
LISTEN), and the catalog's canary assignment is the HTTP route's, call by call."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from agents_core.runtime import AgentCatalog
from tests.conftest import Account, CreateAgent


@pytest.fixture
async def catalog(pg_url: str) -> AsyncIterator[AgentCatalog]:
    # Its own database object: its own pools, apart from the app's.
    async with AgentCatalog.open(pg_url) as catalog:
        yield catalog


async def two_releases(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> uuid.UUID:
    agent = await create_agent(name="Voice", instructions="First.")
    assert (await client.post("/api/v1/releases", headers=admin.headers)).status_code == 201
    changed = await client.patch(
        f"/api/v1/agents/{agent['id']}", json={"instructions": "Second."}, headers=admin.headers
    )
    assert changed.status_code == 200
    assert (await client.post("/api/v1/releases", headers=admin.headers)).status_code == 201
    return uuid.UUID(agent["id"])


async def test_a_cached_resolve_serves_the_new_release_once_sync_returns(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, catalog: AgentCatalog
) -> None:
    agent = await two_releases(client, admin, create_agent)
    org = admin.organization_id
    production = "/api/v1/environments/production"
    assert (await client.put(production, json={"release": 1}, headers=admin.headers)).is_success
    await catalog.sync()
    first = await catalog.resolve(org, agent, environment="production")
    assert (first.release, first.instructions) == (1, "First.")
    assert await catalog.resolve(org, agent, environment="production") is first  # cached

    # The working configuration changing does not reach the worker.
    edited = await client.patch(
        f"/api/v1/agents/{agent}",
        json={"instructions": "Third, not released."},
        headers=admin.headers,
    )
    assert edited.status_code == 200
    await catalog.sync()
    assert (await catalog.resolve(org, agent, environment="production")).instructions == "First."

    # A deploy does, as soon as sync() returns.
    assert (await client.put(production, json={"release": 2}, headers=admin.headers)).is_success
    await catalog.sync()
    moved = await catalog.resolve(org, agent, environment="production")
    assert (moved.release, moved.instructions) == (2, "Second.")
    # A rollback too.
    assert (await client.post(f"{production}/rollback", headers=admin.headers)).is_success
    await catalog.sync()
    assert (await catalog.resolve(org, agent, environment="production")).release == 1
    assert catalog.stats.resets == 0


async def test_the_http_route_and_the_catalog_agree_call_by_call(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, catalog: AgentCatalog
) -> None:
    agent = await two_releases(client, admin, create_agent)
    org = admin.organization_id
    put = await client.put(
        "/api/v1/environments/production",
        json={"release": 1, "canary": {"release": 2, "weight": 20}},
        headers=admin.headers,
    )
    assert put.is_success
    await catalog.sync()
    to_canary = 0
    for i in range(300):
        call_id = f"call-{uuid.uuid4()}" if i % 2 else f"call-{i}"
        response = await client.get(
            f"/api/v1/environments/production/agents/{agent}",
            params={"call_id": call_id},
            headers=admin.headers,
        )
        served = await catalog.resolve(org, agent, environment="production", call_id=call_id)
        assert int(response.headers["X-Release"]) == served.release, call_id
        assert response.json()["instructions"] == served.instructions
        to_canary += served.release == 2
    assert 0 < to_canary < 300
