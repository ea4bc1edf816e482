"""The agent write paths through the real app on SQLite, the default when no database is
configured: the same statements as on PostgreSQL, run through SQLAlchemy, with the request's
connection switching from its reads to a write transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agents_api.app import create_app
from agents_core.db import migrations
from agents_core.db.database import Database
from tests.conftest import make_settings


@pytest.fixture
async def sqlite_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    url = f"sqlite:///{tmp_path}/agents.db"
    database = Database(url)
    await migrations.upgrade(database)
    app = create_app(make_settings(url), database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            signup = await client.post(
                "/api/v1/auth/signup",
                json={
                    "organization_name": "Local",
                    "email": "local@example.com",
                    "password": "a long password",
                },
            )
            assert signup.status_code == 201, signup.text
            client.headers["Authorization"] = f"Bearer {signup.json()['access_token']}"
            yield client
    finally:
        await database.close()


async def test_agent_lifecycle_on_sqlite(sqlite_client: httpx.AsyncClient) -> None:
    client = sqlite_client

    async def create(name: str) -> dict[str, Any]:
        response = await client.post("/api/v1/agents", json={"name": name, "instructions": "Hi."})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    triage, expert = await create("Triage"), await create("Expert")
    url = f"/api/v1/agents/{triage['id']}"

    updated = await client.put(url, json={"voice": "nova", "handoff_targets": [expert["id"]]})
    assert updated.status_code == 200, updated.text
    assert (updated.json()["current_version"], updated.json()["handoff_targets"]) == (
        2,
        [expert["id"]],
    )
    assert updated.headers["ETag"] == '"2"'

    taken = await client.put(url, json={"name": "expert"})
    assert (taken.status_code, taken.json()["code"]) == (409, "agent_name_taken")
    stale = await client.put(url, json={"name": "Router"}, headers={"If-Match": '"1"'})
    assert (stale.status_code, stale.json()["code"]) == (412, "version_mismatch")
    unchanged = await client.put(url, json={"voice": "nova"})
    assert unchanged.json()["current_version"] == 2

    copies = [(await client.post(f"{url}/duplicate")).json() for _ in range(2)]
    assert [c["name"] for c in copies] == ["Triage (Copy)", "Triage (Copy 2)"]
    assert all(c["handoff_targets"] == [expert["id"]] for c in copies)

    expert_url = f"/api/v1/agents/{expert['id']}"
    referenced = await client.delete(expert_url)
    assert (referenced.status_code, referenced.json()["code"]) == (409, "agent_referenced")
    assert (await client.delete(expert_url, params={"force": "true"})).status_code == 204
    after = (await client.get(url)).json()
    assert (after["current_version"], after["handoff_targets"]) == (3, [])

    restored = await client.post(f"{url}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    assert (restored.json()["current_version"], restored.json()["voice"]) == (4, None)
    versions = (await client.get(f"{url}/versions")).json()
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[1]["snapshot"]["handoff_targets"] == [expert["id"]]

    events = (await client.get("/api/v1/agents/events")).json()["events"]
    mine = [(e["kind"], e["version"]) for e in events if e["agent_id"] == triage["id"]]
    assert mine == [("created", 1), ("updated", 2), ("updated", 3), ("restored", 4)]
