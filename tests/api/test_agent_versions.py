"""Updates, version history, If-Match, restore (issue 3)."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from agents_core.db.database import Database
from agents_core.db.models import AgentVersion
from tests.conftest import Account, CreateAgent, add_member, orm_session

CONFIG = (
    "name",
    "instructions",
    "model",
    "voice",
    "handoff_targets",
    "tools",
    "modality",
    "panels",
)


def config(agent: dict[str, Any]) -> dict[str, Any]:
    return {k: agent[k] for k in CONFIG}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
async def test_partial_update_snapshots_previous_configuration(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, method: str
) -> None:
    agent = await create_agent(voice="alloy", tools=["a"])
    url = f"/api/v1/agents/{agent['id']}"
    response = await client.request(
        method,
        url,
        json={"instructions": "New instructions", "tools": ["a", "b"]},
        headers=admin.headers,
    )
    assert response.status_code == 200
    updated = response.json()
    assert response.headers["etag"] == '"2"'
    assert updated["current_version"] == 2
    assert updated["instructions"] == "New instructions"
    assert updated["tools"] == ["a", "b"]
    # Members not sent are unchanged.
    assert (updated["name"], updated["voice"], updated["model"]) == (
        agent["name"],
        "alloy",
        agent["model"],
    )
    assert updated["updated_at"] > agent["updated_at"]
    assert updated["created_at"] == agent["created_at"]

    versions = (await client.get(f"{url}/versions", headers=admin.headers)).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["snapshot"] == config(agent)
    assert versions[0]["agent_id"] == agent["id"]
    assert versions[0]["created_by"] == str(admin.user_id)
    one = await client.get(f"{url}/versions/1", headers=admin.headers)
    assert one.json() == versions[0]
    missing = await client.get(f"{url}/versions/2", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "version_not_found"


async def test_versions_descending_and_contiguous(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    for i in range(4):
        await client.patch(url, json={"instructions": f"v{i + 2}"}, headers=admin.headers)
    versions = (await client.get(f"{url}/versions", headers=admin.headers)).json()
    assert [v["version"] for v in versions] == [4, 3, 2, 1]
    assert [v["snapshot"]["instructions"] for v in versions] == [
        "v4",
        "v3",
        "v2",
        agent["instructions"],
    ]


async def test_noop_update_creates_no_version(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(tools=["a"], modality="audio_camera")
    url = f"/api/v1/agents/{agent['id']}"
    for body in ({}, {"name": agent["name"], "tools": ["a"], "modality": "audio_camera"}):
        response = await client.put(url, json=body, headers=admin.headers)
        assert response.status_code == 200
        assert response.json() == agent
    assert (await client.get(f"{url}/versions", headers=admin.headers)).json() == []


async def test_null_clears_voice_but_not_required_fields(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(voice="nova")
    url = f"/api/v1/agents/{agent['id']}"
    cleared = await client.patch(url, json={"voice": None}, headers=admin.headers)
    assert cleared.json()["voice"] is None
    for field in (
        "name",
        "instructions",
        "model",
        "tools",
        "panels",
        "handoff_targets",
        "modality",
    ):
        response = await client.patch(url, json={field: None}, headers=admin.headers)
        assert response.status_code == 400, field
        assert response.json()["errors"][0]["field"] == field
    assert (await client.get(url, headers=admin.headers)).json()["current_version"] == 2


async def test_update_validation_and_unknown_fields(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    for body, field in [
        ({"name": " "}, "name"),
        ({"tools": ["x", "x"]}, "tools[1]"),
        ({"current_version": 5}, "current_version"),
        ({"is_active": False}, "is_active"),
        ({"id": agent["id"]}, "id"),
    ]:
        response = await client.put(url, json=body, headers=admin.headers)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    assert (await client.get(url, headers=admin.headers)).json() == agent


async def test_rename_to_taken_name_is_409(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent(name="Taken")
    agent = await create_agent(name="Mine")
    url = f"/api/v1/agents/{agent['id']}"
    response = await client.patch(url, json={"name": "TAKEN"}, headers=admin.headers)
    assert response.status_code == 409
    assert response.json()["code"] == "agent_name_taken"
    # Changing only the case of its own name is fine.
    response = await client.patch(url, json={"name": "MINE"}, headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["name"] == "MINE"


async def test_if_match(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    for stale in ('"2"', '"0"', "garbage", '"99999999999999999999999"'):
        response = await client.put(
            url, json={"name": "Changed"}, headers={**admin.headers, "If-Match": stale}
        )
        assert response.status_code == 412, stale
        assert response.json()["code"] == "version_mismatch"
    assert (await client.get(url, headers=admin.headers)).json() == agent
    ok = await client.put(
        url, json={"name": "Changed"}, headers={**admin.headers, "If-Match": '"1"'}
    )
    assert ok.status_code == 200
    assert ok.headers["etag"] == '"2"'
    weak = await client.patch(
        url, json={"name": "Again"}, headers={**admin.headers, "If-Match": 'W/"2"'}
    )
    assert weak.status_code == 200


async def test_restore_brings_old_configuration_back_as_a_new_version(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(name="Original", voice="alloy", tools=["a"])
    url = f"/api/v1/agents/{agent['id']}"
    changed = (
        await client.patch(
            url,
            json={"name": "Renamed", "voice": None, "tools": [], "panels": ["notepad"]},
            headers=admin.headers,
        )
    ).json()
    response = await client.post(f"{url}/versions/1/restore", headers=admin.headers)
    assert response.status_code == 200
    restored = response.json()
    assert response.headers["etag"] == '"3"'
    assert config(restored) == config(agent)
    assert restored["current_version"] == 3
    versions = (await client.get(f"{url}/versions", headers=admin.headers)).json()
    assert [v["version"] for v in versions] == [2, 1]
    assert versions[0]["snapshot"] == config(changed)
    missing = await client.post(f"{url}/versions/9/restore", headers=admin.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "version_not_found"
    mismatch = await client.post(
        f"{url}/versions/1/restore", headers={**admin.headers, "If-Match": '"1"'}
    )
    assert mismatch.status_code == 412


async def test_restore_with_stale_handoff_targets_or_taken_name(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    target = await create_agent(name="Expert")
    agent = await create_agent(name="Router", handoff_targets=[target["id"]])
    url = f"/api/v1/agents/{agent['id']}"
    await client.patch(url, json={"handoff_targets": [], "name": "Router 2"}, headers=admin.headers)
    await client.delete(f"/api/v1/agents/{target['id']}", headers=admin.headers)
    response = await client.post(f"{url}/versions/1/restore", headers=admin.headers)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "invalid_handoff_targets"
    assert target["id"] in problem["detail"]
    # A version whose name is now taken by another agent: 409, nothing written.
    await client.patch(url, json={"name": "Router 3"}, headers=admin.headers)
    await create_agent(name="Router 2")
    taken = await client.post(f"{url}/versions/2/restore", headers=admin.headers)
    assert taken.status_code == 409
    assert taken.json()["code"] == "agent_name_taken"
    current = (await client.get(url, headers=admin.headers)).json()
    assert current["current_version"] == 3
    assert current["name"] == "Router 3"


async def test_twenty_concurrent_updates_keep_versions_contiguous(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    responses = await asyncio.gather(
        *[
            client.patch(url, json={"instructions": f"writer {i}"}, headers=admin.headers)
            for i in range(20)
        ]
    )
    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(r.json()["current_version"] for r in responses) == list(range(2, 22))
    final = (await client.get(url, headers=admin.headers)).json()
    assert final["current_version"] == 21
    async with orm_session(database) as session:
        numbers = (
            await session.scalars(
                select(AgentVersion.version).where(AgentVersion.agent_id == agent["id"])
            )
        ).all()
    assert sorted(numbers) == list(range(1, 21))


async def test_version_author_is_the_user(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    second = await add_member(client, admin, role="admin")
    agent = await create_agent()
    url = f"/api/v1/agents/{agent['id']}"
    await client.patch(url, json={"instructions": "by second"}, headers=second.headers)
    versions = (await client.get(f"{url}/versions", headers=admin.headers)).json()
    assert versions[0]["created_by"] == str(second.user_id)


async def test_delete_is_soft_and_referenced_agents_are_protected(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    target = await create_agent(name="Target")
    referrer = await create_agent(name="Referrer", handoff_targets=[target["id"]])
    url = f"/api/v1/agents/{target['id']}"
    refused = await client.delete(url, headers=admin.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "agent_referenced"
    assert referrer["id"] in problem["detail"]
    assert (await client.get(url, headers=admin.headers)).status_code == 200

    forced = await client.delete(f"{url}?force=true", headers=admin.headers)
    assert forced.status_code == 204
    assert (await client.get(url, headers=admin.headers)).status_code == 404
    after = (await client.get(f"/api/v1/agents/{referrer['id']}", headers=admin.headers)).json()
    assert after["handoff_targets"] == []
    assert after["current_version"] == 2
    versions = (
        await client.get(f"/api/v1/agents/{referrer['id']}/versions", headers=admin.headers)
    ).json()
    assert versions[0]["snapshot"]["handoff_targets"] == [target["id"]]


async def test_a_write_rolled_back_by_a_deadlock_is_a_retryable_409(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, pg_url: str
) -> None:
    """PostgreSQL breaks a deadlock by rolling one transaction back: the request says so (409
    ``concurrent_change``, send it again), not 500, and nothing of it is kept."""
    first = await create_agent()
    second = await create_agent()
    other = await asyncpg.connect(pg_url)
    try:
        # The other transaction never runs the deadlock check first: the request's does.
        await other.execute("SET deadlock_timeout = '30s'")
        transaction = other.transaction()
        await transaction.start()
        await other.execute("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", UUID(second["id"]))
        # The request locks `first`, then waits to share-lock its new handoff target `second`.
        request = asyncio.create_task(
            client.put(
                f"/api/v1/agents/{first['id']}",
                json={"handoff_targets": [second["id"]]},
                headers=admin.headers,
            )
        )
        for _ in range(500):
            waiting = await other.fetchval(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid IN"
                " (SELECT pid FROM pg_stat_activity WHERE datname = current_database())"
            )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting, "the request never waited for the lock"
        # Now the other transaction waits for `first`: a cycle, which the request's backend
        # finds after its deadlock_timeout (1 s).
        await other.execute("SELECT 1 FROM agents WHERE id = $1 FOR SHARE", UUID(first["id"]))
        response = await request
        await transaction.rollback()
    finally:
        await other.close()
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "concurrent_change"
    assert response.headers["Retry-After"] == "0"
    after = (await client.get(f"/api/v1/agents/{first['id']}", headers=admin.headers)).json()
    assert (after["current_version"], after["handoff_targets"]) == (1, [])
    versions = await client.get(f"/api/v1/agents/{first['id']}/versions", headers=admin.headers)
    assert versions.json() == []
