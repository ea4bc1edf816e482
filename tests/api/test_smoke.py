from __future__ import annotations

import httpx

from tests.conftest import Account, CreateAgent


async def test_health(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.json() == {"status": "ok"}
    ready = await client.get("/health/ready")
    assert ready.status_code == 200


async def test_create_and_get_agent(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(tools=["search"])
    response = await client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == agent
