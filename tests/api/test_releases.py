"""/api/v1/releases: create (closed under handoff, numbered without gaps), list, get, one
released agent, diff; scoped to the organization."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import Account, CreateAgent, add_member, signup

RELEASES = "/api/v1/releases"


async def release(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await client.post(RELEASES, json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def test_a_release_of_every_active_agent(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    b = await create_agent(name="beta")
    a = await create_agent(name="Alpha", handoff_targets=[b["id"]])
    c = await create_agent(name="Gamma")
    await client.patch(f"/api/v1/agents/{a['id']}", json={"tools": ["x"]}, headers=admin.headers)
    gone = await create_agent(name="Gone")
    await client.delete(f"/api/v1/agents/{gone['id']}", headers=admin.headers)

    response = await client.post(RELEASES, json={}, headers=admin.headers)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["Location"] == f"{RELEASES}/1"
    assert body["number"] == 1
    assert body["message"] is None
    assert body["created_by"] == str(admin.user_id)
    assert body["created_at"].endswith("Z")
    # Ordered by name (case-insensitively), each at its current version; deleted ones left out.
    assert body["agents"] == [
        {"agent_id": a["id"], "name": "Alpha", "version": 2},
        {"agent_id": b["id"], "name": "beta", "version": 1},
        {"agent_id": c["id"], "name": "Gamma", "version": 1},
    ]
    # GET gives the same; the next release is number 2.
    assert (await client.get(f"{RELEASES}/1", headers=admin.headers)).json() == body
    second = await release(client, admin, message="Second")
    assert (second["number"], second["message"]) == (2, "Second")


async def test_choosing_one_agent_releases_its_whole_handoff_graph(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    docs = await create_agent(name="Docs")
    coding = await create_agent(name="Coding", handoff_targets=[docs["id"]])
    billing = await create_agent(name="Billing")
    triage = await create_agent(name="Triage", handoff_targets=[billing["id"], coding["id"]])
    # A cycle back to the entry agent.
    await client.patch(
        f"/api/v1/agents/{docs['id']}",
        json={"handoff_targets": [triage["id"]]},
        headers=admin.headers,
    )
    unrelated = await create_agent(name="Unrelated")

    chosen = await release(client, admin, agents=[triage["id"]])
    assert {m["name"]: m["version"] for m in chosen["agents"]} == {
        "Billing": 1,
        "Coding": 1,
        "Docs": 2,
        "Triage": 1,
    }
    # From a leaf: what it reaches (here everything but the unrelated agent, through the cycle).
    leaf = await release(client, admin, agents=[billing["id"]])
    assert [m["name"] for m in leaf["agents"]] == ["Billing"]
    two = await release(client, admin, agents=[unrelated["id"], docs["id"]])
    assert [m["name"] for m in two["agents"]] == [
        "Billing",
        "Coding",
        "Docs",
        "Triage",
        "Unrelated",
    ]


async def test_invalid_choices_and_bodies(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    ok = await create_agent()
    gone = await create_agent()
    await client.delete(f"/api/v1/agents/{gone['id']}", headers=admin.headers)
    foreign = await create_agent(await signup(client))
    missing = "00000000-0000-4000-8000-000000000000"
    response = await client.post(
        RELEASES,
        json={"agents": [gone["id"], ok["id"], foreign["id"], missing]},
        headers=admin.headers,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_agents"
    assert [e["field"] for e in body["errors"]] == ["agents[0]", "agents[2]", "agents[3]"]

    for bad in (
        {"agents": []},
        {"agents": [ok["id"], ok["id"]]},
        {"agents": ["not-a-uuid"]},
        {"agents": [missing] * 1001},
        {"message": "x" * 1001},
        {"message": "nul \x00"},
        {"number": 7},
        {"id": ok["id"]},
    ):
        response = await client.post(RELEASES, json=bad, headers=admin.headers)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["code"] == "validation_error", bad
    assert (await client.get(RELEASES, headers=admin.headers)).json() == []
    # A message of exactly 1000 characters is fine.
    assert (await release(client, admin, message="m" * 1000))["message"] == "m" * 1000


async def test_nothing_to_release(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(RELEASES, json={}, headers=admin.headers)
    assert response.status_code == 400
    assert response.json()["code"] == "empty_release"
    # No body at all is the same as {}.
    response = await client.post(RELEASES, headers=admin.headers)
    assert response.json()["code"] == "empty_release"


async def test_roles_and_api_keys(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent()
    member = await add_member(client, admin)
    forbidden = await client.post(RELEASES, json={}, headers=member.headers)
    assert (forbidden.status_code, forbidden.json()["code"]) == (403, "forbidden")
    assert (await client.post(RELEASES, json={})).status_code == 401
    key = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "admin"}, headers=admin.headers
    )
    key_headers = {"Authorization": f"Bearer {key.json()['key']}"}
    by_key = await client.post(RELEASES, json={}, headers=key_headers)
    assert by_key.status_code == 201
    assert by_key.json()["created_by"] is None
    # A member reads everything.
    assert (await client.get(RELEASES, headers=member.headers)).status_code == 200
    assert (await client.get(f"{RELEASES}/1", headers=member.headers)).status_code == 200


async def test_ten_concurrent_creations_take_numbers_one_to_ten(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    for _ in range(3):
        await create_agent()
    responses = await asyncio.gather(
        *(client.post(RELEASES, json={}, headers=admin.headers) for _ in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert sorted(r.json()["number"] for r in responses) == list(range(1, 11))
    listed = await client.get(RELEASES, params={"limit": 500}, headers=admin.headers)
    assert [r["number"] for r in listed.json()] == list(range(10, 0, -1))


async def test_list_newest_first_with_paging(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent()
    for _ in range(5):
        await release(client, admin)
    page = await client.get(RELEASES, params={"limit": 2, "offset": 1}, headers=admin.headers)
    assert page.status_code == 200
    assert page.headers["X-Total-Count"] == "5"
    assert [r["number"] for r in page.json()] == [4, 3]
    assert all(len(r["agents"]) == 1 for r in page.json())
    past = await client.get(RELEASES, params={"offset": 50}, headers=admin.headers)
    assert (past.json(), past.headers["X-Total-Count"]) == ([], "5")
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}, {"limit": "x"}):
        bad = await client.get(RELEASES, params=params, headers=admin.headers)
        assert bad.status_code == 400, params


async def test_a_released_configuration_outlives_updates_and_deletion(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    expert = await create_agent(name="Expert", voice="verse", tools=["search"])
    triage = await create_agent(name="Triage", handoff_targets=[expert["id"]])
    await release(client, admin)
    url = f"{RELEASES}/1/agents/{expert['id']}"
    before = await client.get(url, headers=admin.headers)
    assert before.status_code == 200, before.text
    released = before.json()
    assert released == {
        "agent_id": expert["id"],
        "release": 1,
        "version": 1,
        "name": "Expert",
        "instructions": expert["instructions"],
        "model": "gpt-4.1-mini",
        "voice": "verse",
        "handoff_targets": [],
        "tools": ["search"],
        "modality": "audio_only",
        "panels": [],
    }
    # Updated twice, renamed: the release still shows version 1 (now a saved snapshot).
    for change in ({"name": "Expert 2", "voice": None}, {"instructions": "Changed."}):
        updated = await client.patch(
            f"/api/v1/agents/{expert['id']}", json=change, headers=admin.headers
        )
        assert updated.status_code == 200
    assert (await client.get(url, headers=admin.headers)).json() == released
    members = (await client.get(f"{RELEASES}/1", headers=admin.headers)).json()["agents"]
    assert {m["name"] for m in members} == {"Expert", "Triage"}
    # Deleted (its referrer loses it): still served from the release.
    deleted = await client.delete(
        f"/api/v1/agents/{expert['id']}", params={"force": "true"}, headers=admin.headers
    )
    assert deleted.status_code == 204
    assert (await client.get(url, headers=admin.headers)).json() == released
    triage_released = await client.get(f"{RELEASES}/1/agents/{triage['id']}", headers=admin.headers)
    assert triage_released.json()["handoff_targets"] == [expert["id"]]
    # A deleted agent still at the version it was released at (the live row) resolves too.
    lone = await create_agent(name="Lone")
    await release(client, admin, agents=[lone["id"]])
    await client.delete(f"/api/v1/agents/{lone['id']}", headers=admin.headers)
    lone_released = await client.get(f"{RELEASES}/2/agents/{lone['id']}", headers=admin.headers)
    assert (lone_released.status_code, lone_released.json()["name"]) == (200, "Lone")


async def test_not_found_answers(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    inside = await create_agent()
    outside = await create_agent()
    await release(client, admin, agents=[inside["id"]])
    other = await signup(client)
    await create_agent(other)
    await release(client, other)

    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    h = admin.headers
    assert code(await client.get(f"{RELEASES}/2", headers=h)) == (404, "release_not_found")
    # Another organization's release 1 is not ours; ours is not theirs.
    own = (await client.get(f"{RELEASES}/1", headers=h)).json()
    theirs = (await client.get(f"{RELEASES}/1", headers=other.headers)).json()
    assert own["id"] != theirs["id"]
    assert code(await client.get(f"{RELEASES}/2", headers=other.headers)) == (
        404,
        "release_not_found",
    )
    assert code(await client.get(f"{RELEASES}/1/agents/{outside['id']}", headers=h)) == (
        404,
        "agent_not_found",
    )
    assert code(await client.get(f"{RELEASES}/9/agents/{inside['id']}", headers=h)) == (
        404,
        "release_not_found",
    )
    assert code(await client.get(f"{RELEASES}/1/agents/{inside['id']}", headers=other.headers)) == (
        404,
        "agent_not_found",
    )
    assert code(await client.get(f"{RELEASES}/1/diff/5", headers=h)) == (404, "release_not_found")
    assert code(await client.get(f"{RELEASES}/5/diff/1", headers=h)) == (404, "release_not_found")
    for path in (
        f"{RELEASES}/0",
        f"{RELEASES}/{'9' * 25}",
        f"{RELEASES}/x",
        f"{RELEASES}/1/diff/0",
    ):
        assert (await client.get(path, headers=h)).status_code in (400, 404), path


async def test_diff_between_two_releases(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    kept = await create_agent(name="Kept")
    changed = await create_agent(name="Changed", voice="alloy")
    removed = await create_agent(name="Removed")
    await release(client, admin)
    h = admin.headers
    await client.patch(
        f"/api/v1/agents/{changed['id']}", json={"voice": "verse", "tools": ["a"]}, headers=h
    )
    await client.patch(f"/api/v1/agents/{changed['id']}", json={"model": "gpt-4.1"}, headers=h)
    await client.delete(f"/api/v1/agents/{removed['id']}", headers=h)
    added = await create_agent(name="Added")
    await release(client, admin)

    response = await client.get(f"{RELEASES}/2/diff/1", headers=h)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "base": 1,
        "release": 2,
        "agents": [
            {
                "agent_id": added["id"],
                "name": "Added",
                "change": "added",
                "base_version": None,
                "version": 1,
                "fields": [],
            },
            {
                "agent_id": changed["id"],
                "name": "Changed",
                "change": "changed",
                "base_version": 1,
                "version": 3,
                "fields": ["model", "voice", "tools"],
            },
            {
                "agent_id": removed["id"],
                "name": "Removed",
                "change": "removed",
                "base_version": 1,
                "version": None,
                "fields": [],
            },
        ],
    }
    assert kept["id"] not in response.text
    backwards = (await client.get(f"{RELEASES}/1/diff/2", headers=h)).json()
    assert [(a["name"], a["change"]) for a in backwards["agents"]] == [
        ("Added", "removed"),
        ("Changed", "changed"),
        ("Removed", "added"),
    ]
    assert (await client.get(f"{RELEASES}/2/diff/2", headers=h)).json()["agents"] == []


async def test_creating_a_release_records_a_released_event(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent()
    await release(client, admin)
    events = (await client.get("/api/v1/agents/events", headers=admin.headers)).json()["events"]
    assert [(e["kind"], e["agent_id"], e["release"], e["environment"]) for e in events] == [
        ("created", agent["id"], None, None),
        ("released", None, 1, None),
    ]
    assert events[1]["version"] == 1
    assert events[1]["actor_id"] == str(admin.user_id)


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    expected = {
        ("post", RELEASES): "createRelease",
        ("get", RELEASES): "listReleases",
        ("get", f"{RELEASES}/{{number}}"): "getRelease",
        ("get", f"{RELEASES}/{{number}}/agents/{{agent_id}}"): "getReleasedAgent",
        ("get", f"{RELEASES}/{{number}}/diff/{{base}}"): "diffReleases",
    }
    for (method, path), operation_id in expected.items():
        operation = paths[path][method]
        assert operation["operationId"] == operation_id
        assert operation["tags"] == ["releases"]
        assert operation["summary"]
