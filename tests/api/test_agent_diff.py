"""GET /api/v1/agents/{id}/diff: the configuration fields that differ between two versions."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Account, CreateAgent, add_member, signup


async def edited_agent(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> dict[str, Any]:
    """An agent at version 3: v1 → v2 changes voice and tools, v2 → v3 the instructions."""
    target = await create_agent(name="Target")
    agent = await create_agent(name="Differ", voice="alloy", tools=["search"])
    url = f"/api/v1/agents/{agent['id']}"
    changed = await client.patch(
        url,
        json={"voice": None, "tools": ["search", "run"], "handoff_targets": [target["id"]]},
        headers=admin.headers,
    )
    assert changed.status_code == 200, changed.text
    changed = await client.patch(url, json={"instructions": "Third."}, headers=admin.headers)
    assert changed.json()["current_version"] == 3
    return {**changed.json(), "target": target["id"]}


async def test_the_fields_that_differ_in_snapshot_order(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await edited_agent(client, admin, create_agent)
    url = f"/api/v1/agents/{agent['id']}/diff"
    response = await client.get(url, params={"from": 1, "to": 2}, headers=admin.headers)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "agent_id": agent["id"],
        "from": 1,
        "to": 2,
        "changes": [
            {"field": "voice", "before": "alloy", "after": None},
            {"field": "handoff_targets", "before": [], "after": [agent["target"]]},
            {"field": "tools", "before": ["search"], "after": ["search", "run"]},
        ],
    }
    # ``to`` defaults to the current version, the live configuration.
    current = (await client.get(url, params={"from": 2}, headers=admin.headers)).json()
    assert current["to"] == 3
    assert current["changes"] == [
        {
            "field": "instructions",
            "before": "You are a helpful voice agent. Answer briefly.",
            "after": "Third.",
        }
    ]
    # Backwards: ``before`` is the value at ``from``.
    backwards = (await client.get(url, params={"from": 3, "to": 1}, headers=admin.headers)).json()
    assert [c["field"] for c in backwards["changes"]] == [
        "instructions",
        "voice",
        "handoff_targets",
        "tools",
    ]
    assert backwards["changes"][1] == {"field": "voice", "before": None, "after": "alloy"}
    # Equal configurations.
    same = (await client.get(url, params={"from": 3, "to": 3}, headers=admin.headers)).json()
    assert same == {"agent_id": agent["id"], "from": 3, "to": 3, "changes": []}


async def test_a_member_may_read_it(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    member = await add_member(client, admin)
    agent = await create_agent()
    response = await client.get(
        f"/api/v1/agents/{agent['id']}/diff", params={"from": 1}, headers=member.headers
    )
    assert response.status_code == 200
    assert response.json()["changes"] == []
    anonymous = await client.get(f"/api/v1/agents/{agent['id']}/diff", params={"from": 1})
    assert anonymous.status_code == 401


async def test_missing_versions_agents_and_bad_queries(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await edited_agent(client, admin, create_agent)
    url = f"/api/v1/agents/{agent['id']}/diff"
    for params in ({"from": 4}, {"from": 1, "to": 9}, {"from": 0}, {"from": -2, "to": 1}):
        response = await client.get(url, params=params, headers=admin.headers)
        assert response.status_code == 404, params
        assert response.json()["code"] == "version_not_found", params
    for params in (
        {},
        {"to": 1},
        {"from": "one"},
        {"from": 1.5},
        {"from": 1, "to": "x"},
        {"from": "9" * 25},
    ):
        response = await client.get(url, params=params, headers=admin.headers)
        assert response.status_code == 400, params
        assert response.headers["content-type"].startswith("application/problem+json")
    # A deleted agent, a missing one and another organization's: the same 404.
    other = await signup(client)
    foreign = await create_agent(other)
    gone = await create_agent()
    assert (await client.delete(f"/api/v1/agents/{gone['id']}", headers=admin.headers)).is_success
    answers = []
    for agent_id in (gone["id"], foreign["id"], "00000000-0000-4000-8000-000000000000"):
        response = await client.get(
            f"/api/v1/agents/{agent_id}/diff", params={"from": 1}, headers=admin.headers
        )
        answers.append((response.status_code, response.json()["code"]))
    assert answers == [(404, "agent_not_found")] * 3
