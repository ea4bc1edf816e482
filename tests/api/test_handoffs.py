"""Handoff integrity: targets must be active agents of the same organization, not the agent
itself; deleting a referenced agent is refused unless forced."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from agents_core.db.database import Database
from agents_core.db.models import AgentEventRow
from tests.conftest import Account, CreateAgent, agent_body, orm_session, signup


def assert_invalid_targets(response: httpx.Response, bad: dict[int, str]) -> None:
    """A 400 ``invalid_handoff_targets`` naming exactly these positions and ids."""
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "invalid_handoff_targets"
    assert sorted(e["field"] for e in problem["errors"]) == sorted(
        f"handoff_targets[{i}]" for i in bad
    )
    for target in bad.values():
        assert target in problem["detail"]


async def agents_of(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/agents", headers=account.headers)
    assert response.status_code == 200
    agents: list[dict[str, Any]] = response.json()
    return agents


async def test_create_rejects_missing_deleted_and_foreign_targets(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    good = await create_agent(name="Good")
    deleted = await create_agent(name="Deleted")
    assert (
        await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    ).status_code == 204
    other = await signup(client)
    foreign = await create_agent(other, name="Foreign")
    missing = str(uuid.uuid4())

    response = await client.post(
        "/api/v1/agents",
        json=agent_body(
            name="Router", handoff_targets=[good["id"], missing, deleted["id"], foreign["id"]]
        ),
        headers=admin.headers,
    )
    assert_invalid_targets(response, {1: missing, 2: deleted["id"], 3: foreign["id"]})
    assert good["id"] not in response.json()["detail"]
    # Nothing was created.
    assert sorted(a["name"] for a in await agents_of(client, admin)) == ["Good"]

    for bad in (missing, deleted["id"], foreign["id"]):
        single = await client.post(
            "/api/v1/agents", json=agent_body(handoff_targets=[bad]), headers=admin.headers
        )
        assert_invalid_targets(single, {0: bad})


async def test_null_and_empty_targets_are_accepted(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    with_null = await create_agent(handoff_targets=None)
    with_empty = await create_agent(handoff_targets=[])
    assert with_null["handoff_targets"] == []
    assert with_empty["handoff_targets"] == []
    target = await create_agent()
    valid = await create_agent(handoff_targets=[target["id"]])
    assert valid["handoff_targets"] == [target["id"]]

    cleared = await client.patch(
        f"/api/v1/agents/{valid['id']}", json={"handoff_targets": []}, headers=admin.headers
    )
    assert cleared.status_code == 200
    assert cleared.json()["handoff_targets"] == []
    assert cleared.json()["current_version"] == 2


async def test_update_rejects_self_missing_deleted_and_foreign_targets(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(name="Main")
    target = await create_agent(name="Target")
    deleted = await create_agent(name="Old")
    await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    foreign = await create_agent(await signup(client))
    missing = str(uuid.uuid4())

    cases: list[tuple[list[str], dict[int, str]]] = [
        ([agent["id"]], {0: agent["id"]}),
        ([target["id"], agent["id"]], {1: agent["id"]}),
        ([missing], {0: missing}),
        ([deleted["id"], target["id"]], {0: deleted["id"]}),
        ([target["id"], foreign["id"]], {1: foreign["id"]}),
    ]
    for targets, bad in cases:
        response = await client.put(
            f"/api/v1/agents/{agent['id']}",
            json={"handoff_targets": targets},
            headers=admin.headers,
        )
        assert_invalid_targets(response, bad)

    self_error = await client.patch(
        f"/api/v1/agents/{agent['id']}",
        json={"handoff_targets": [agent["id"]]},
        headers=admin.headers,
    )
    assert "itself" in self_error.json()["errors"][0]["message"]

    # No failed update wrote anything.
    current = await client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers)
    assert current.json()["current_version"] == 1
    assert current.json()["handoff_targets"] == []
    versions = await client.get(f"/api/v1/agents/{agent['id']}/versions", headers=admin.headers)
    assert versions.json() == []


async def test_update_with_null_targets_is_rejected(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    response = await client.patch(
        f"/api/v1/agents/{agent['id']}", json={"handoff_targets": None}, headers=admin.headers
    )
    # handoff_targets is not nullable: null on update is refused, not taken as "clear".
    assert response.status_code == 400


async def test_delete_referenced_agent_is_refused_then_forced(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    expert = await create_agent(name="Expert")
    other_target = await create_agent(name="Billing")
    triage = await create_agent(name="Triage", handoff_targets=[other_target["id"], expert["id"]])
    backup = await create_agent(name="Backup", handoff_targets=[expert["id"]])
    bystander = await create_agent(name="Bystander", handoff_targets=[other_target["id"]])

    refused = await client.delete(f"/api/v1/agents/{expert['id']}", headers=admin.headers)
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["code"] == "agent_referenced"
    assert triage["id"] in problem["detail"]
    assert backup["id"] in problem["detail"]
    assert bystander["id"] not in problem["detail"]
    # Still there, referrers untouched.
    still = await client.get(f"/api/v1/agents/{expert['id']}", headers=admin.headers)
    assert still.status_code == 200
    unchanged = await client.get(f"/api/v1/agents/{triage['id']}", headers=admin.headers)
    assert unchanged.json()["current_version"] == 1

    forced = await client.delete(
        f"/api/v1/agents/{expert['id']}", params={"force": "true"}, headers=admin.headers
    )
    assert forced.status_code == 204
    gone = await client.get(f"/api/v1/agents/{expert['id']}", headers=admin.headers)
    assert gone.status_code == 404

    after_triage = (
        await client.get(f"/api/v1/agents/{triage['id']}", headers=admin.headers)
    ).json()
    after_backup = (
        await client.get(f"/api/v1/agents/{backup['id']}", headers=admin.headers)
    ).json()
    assert after_triage["handoff_targets"] == [other_target["id"]]
    assert after_triage["current_version"] == 2
    assert after_backup["handoff_targets"] == []
    assert after_backup["current_version"] == 2
    after_bystander = (
        await client.get(f"/api/v1/agents/{bystander['id']}", headers=admin.headers)
    ).json()
    assert after_bystander["current_version"] == 1

    # Each referrer's previous configuration is saved as version 1.
    versions = (
        await client.get(f"/api/v1/agents/{triage['id']}/versions", headers=admin.headers)
    ).json()
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["snapshot"]["handoff_targets"] == [other_target["id"], expert["id"]]
    assert versions[0]["created_by"] == str(admin.user_id)

    # The event feed has the referrers' updates and the deletion.
    async with orm_session(database) as session:
        rows = (
            await session.execute(
                select(AgentEventRow.agent_id, AgentEventRow.version, AgentEventRow.kind).where(
                    AgentEventRow.agent_id.in_(
                        [uuid.UUID(expert["id"]), uuid.UUID(triage["id"]), uuid.UUID(backup["id"])]
                    ),
                    AgentEventRow.kind != "created",
                )
            )
        ).all()
    assert sorted((str(a), v, k) for a, v, k in rows) == sorted(
        [
            (triage["id"], 2, "updated"),
            (backup["id"], 2, "updated"),
            (expert["id"], 1, "deleted"),
        ]
    )

    # Restoring the old snapshot would point at the deleted agent again: refused.
    restore = await client.post(
        f"/api/v1/agents/{triage['id']}/versions/1/restore", headers=admin.headers
    )
    assert restore.status_code == 400
    assert restore.json()["code"] == "invalid_handoff_targets"


async def test_delete_unreferenced_agent_needs_no_force(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    target = await create_agent()
    source = await create_agent(handoff_targets=[target["id"]])
    # The referrer itself can go; its target stays.
    assert (
        await client.delete(f"/api/v1/agents/{source['id']}", headers=admin.headers)
    ).status_code == 204
    # With the referrer deleted, nothing refers to the target any more.
    assert (
        await client.delete(f"/api/v1/agents/{target['id']}", headers=admin.headers)
    ).status_code == 204


async def test_foreign_referrers_do_not_count_or_change(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    other = await signup(client)
    mine = await create_agent(name="Mine")
    # The other organization cannot point at my agent at all.
    response = await client.post(
        "/api/v1/agents",
        json=agent_body(handoff_targets=[mine["id"]]),
        headers=other.headers,
    )
    assert_invalid_targets(response, {0: mine["id"]})
    # Nor delete it, forced or not.
    for params in ({}, {"force": "true"}):
        foreign_delete = await client.delete(
            f"/api/v1/agents/{mine['id']}", params=params, headers=other.headers
        )
        assert foreign_delete.status_code == 404
        assert foreign_delete.json()["code"] == "agent_not_found"
    assert (
        await client.get(f"/api/v1/agents/{mine['id']}", headers=admin.headers)
    ).status_code == 200
