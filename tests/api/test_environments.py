"""/api/v1/environments: deploy (put), promote, rollback, delete, get, list, history, and
resolving an agent for a call (with the canary rule); scoped to the organization."""

from __future__ import annotations

import uuid
from hashlib import sha256
from typing import Any

import httpx
import pytest

from tests.conftest import Account, CreateAgent, add_member, signup

ENVIRONMENTS = "/api/v1/environments"
PRODUCTION = f"{ENVIRONMENTS}/production"


async def releases(
    client: httpx.AsyncClient, account: Account, create_agent: CreateAgent, count: int
) -> dict[str, Any]:
    """``count`` releases of one agent, each after a change of it; returns the agent."""
    agent = await create_agent(account, name="Voice")
    for number in range(1, count + 1):
        if number > 1:
            changed = await client.patch(
                f"/api/v1/agents/{agent['id']}",
                json={"instructions": f"Release {number}."},
                headers=account.headers,
            )
            assert changed.status_code == 200
        created = await client.post("/api/v1/releases", json={}, headers=account.headers)
        assert created.json()["number"] == number
    return agent


async def put(
    client: httpx.AsyncClient,
    account: Account,
    body: dict[str, Any],
    name: str = "production",
    **headers: str,
) -> httpx.Response:
    return await client.put(
        f"{ENVIRONMENTS}/{name}", json=body, headers={**account.headers, **headers}
    )


async def history(client: httpx.AsyncClient, account: Account, name: str = "production") -> Any:
    response = await client.get(f"{ENVIRONMENTS}/{name}/history", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def feed(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/agents/events", headers=account.headers)
    events: list[dict[str, Any]] = response.json()["events"]
    return [e for e in events if e["kind"] in {"deployed", "undeployed"}]


async def test_put_creates_moves_and_a_put_that_changes_nothing_is_no_move(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 3)
    created = await put(client, admin, {"release": 1})
    assert created.status_code == 201, created.text
    assert created.headers["ETag"] == '"1"'
    body = created.json()
    assert body == {
        "name": "production",
        "release": 1,
        "canary": None,
        "revision": 1,
        "updated_at": body["updated_at"],
        "updated_by": str(admin.user_id),
    }
    moved = await put(client, admin, {"release": 2, "canary": {"release": 3, "weight": 10}})
    assert moved.status_code == 200
    assert moved.headers["ETag"] == '"2"'
    assert moved.json()["canary"] == {"release": 3, "weight": 10}
    assert moved.json()["revision"] == 2

    # The same again: 200, same revision, no history, no event.
    again = await put(client, admin, {"release": 2, "canary": {"release": 3, "weight": 10}})
    assert again.status_code == 200
    assert again.json() == moved.json()
    assert len(await history(client, admin)) == 2
    assert [e["version"] for e in await feed(client, admin)] == [1, 2]
    # Only the canary changes: a move.
    weight = await put(client, admin, {"release": 2, "canary": {"release": 3, "weight": 50}})
    assert weight.json()["revision"] == 3
    cleared = await put(client, admin, {"release": 2, "canary": None})
    assert (cleared.json()["revision"], cleared.json()["canary"]) == (4, None)
    assert (await put(client, admin, {"release": 2})).json()["revision"] == 4

    got = await client.get(PRODUCTION, headers=admin.headers)
    assert got.status_code == 200
    assert got.headers["ETag"] == '"4"'
    assert got.json() == cleared.json()


async def test_deployed_events(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 2)
    await put(client, admin, {"release": 1})
    await put(client, admin, {"release": 2})
    await client.post(
        f"{ENVIRONMENTS}/staging/promote", json={"from": "production"}, headers=admin.headers
    )
    await client.delete(f"{ENVIRONMENTS}/staging", headers=admin.headers)
    events = await feed(client, admin)
    assert [
        (e["kind"], e["agent_id"], e["environment"], e["release"], e["version"]) for e in events
    ] == [
        ("deployed", None, "production", 1, 1),
        ("deployed", None, "production", 2, 2),
        ("deployed", None, "staging", 2, 1),
        ("undeployed", None, "staging", None, 1),
    ]
    assert all(e["actor_id"] == str(admin.user_id) for e in events)


async def test_if_match_on_the_revision(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 3)
    await put(client, admin, {"release": 1})
    stale = await put(client, admin, {"release": 2}, **{"If-Match": '"7"'})
    assert stale.status_code == 412
    assert stale.json()["code"] == "revision_mismatch"
    garbage = await put(client, admin, {"release": 2}, **{"If-Match": "soon"})
    assert (garbage.status_code, garbage.json()["code"]) == (412, "revision_mismatch")
    unchanged = (await client.get(PRODUCTION, headers=admin.headers)).json()
    assert (unchanged["release"], unchanged["revision"]) == (1, 1)
    assert len(await history(client, admin)) == 1

    ok = await put(client, admin, {"release": 2}, **{"If-Match": '"1"'})
    assert (ok.status_code, ok.json()["revision"]) == (200, 2)
    assert (await put(client, admin, {"release": 3}, **{"If-Match": "*"})).status_code == 200
    # Every move honours it.
    h = {**admin.headers, "If-Match": '"1"'}
    for response in (
        await client.post(f"{PRODUCTION}/rollback", headers=h),
        await client.post(f"{PRODUCTION}/promote", json={"from": "production"}, headers=h),
        await client.delete(PRODUCTION, headers=h),
    ):
        assert (response.status_code, response.json()["code"]) == (412, "revision_mismatch")
    # An environment that does not exist is at no revision.
    missing = await put(client, admin, {"release": 1}, name="staging", **{"If-Match": '"1"'})
    assert (missing.status_code, missing.json()["code"]) == (412, "revision_mismatch")
    assert (await client.get(f"{ENVIRONMENTS}/staging", headers=admin.headers)).status_code == 404


async def test_bad_names_releases_and_canaries(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 2)
    for name in ("Production", "-prod", "prod.1", "a" * 64, "pro duction", "é"):
        response = await put(client, admin, {"release": 1}, name=name)
        assert response.status_code == 400, name
        assert response.json()["code"] == "validation_error", name
    for name in ("0", "a" * 63, "prod_1-eu"):
        assert (await put(client, admin, {"release": 1}, name=name)).status_code == 201, name

    missing = await put(client, admin, {"release": 9})
    assert (missing.status_code, missing.json()["code"]) == (400, "invalid_release")
    assert [e["field"] for e in missing.json()["errors"]] == ["release"]
    canary = await put(client, admin, {"release": 1, "canary": {"release": 9, "weight": 5}})
    assert (canary.status_code, canary.json()["code"]) == (400, "invalid_release")
    assert [e["field"] for e in canary.json()["errors"]] == ["canary.release"]
    for body in (
        {"release": 0},
        {"release": "one"},
        {"release": 10**12},
        {},
        {"release": 1, "canary": {"release": 2, "weight": 0}},
        {"release": 1, "canary": {"release": 2, "weight": 100}},
        {"release": 1, "canary": {"release": 2}},
        {"release": 1, "canary": {"release": 2, "weight": 10, "extra": 1}},
        {"release": 1, "revision": 3},
    ):
        response = await put(client, admin, body)
        assert response.status_code == 400, (body, response.text)
    assert (await client.get(PRODUCTION, headers=admin.headers)).status_code == 404


async def test_list_get_and_delete(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 2)
    for name in ("staging", "production", "dev"):
        await put(client, admin, {"release": 1}, name=name)
    listed = await client.get(ENVIRONMENTS, headers=admin.headers)
    assert [e["name"] for e in listed.json()] == ["dev", "production", "staging"]
    await put(client, admin, {"release": 2})
    await put(client, admin, {"release": 1})

    deleted = await client.delete(PRODUCTION, headers=admin.headers)
    assert deleted.status_code == 204
    gone = await client.get(PRODUCTION, headers=admin.headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "environment_not_found")
    gone_history = await client.get(f"{PRODUCTION}/history", headers=admin.headers)
    assert (gone_history.status_code, gone_history.json()["code"]) == (404, "environment_not_found")
    again = await client.delete(PRODUCTION, headers=admin.headers)
    assert (again.status_code, again.json()["code"]) == (404, "environment_not_found")
    # Created again under the same name: revision 1, a history of one.
    recreated = await put(client, admin, {"release": 2})
    assert (recreated.status_code, recreated.json()["revision"]) == (201, 1)
    assert [m["release"] for m in await history(client, admin)] == [2]


async def test_promote(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 3)
    await put(client, admin, {"release": 2, "canary": {"release": 3, "weight": 30}}, name="staging")
    promoted = await client.post(
        f"{PRODUCTION}/promote", json={"from": "staging"}, headers=admin.headers
    )
    assert promoted.status_code == 201, promoted.text
    assert (promoted.json()["release"], promoted.json()["canary"]) == (2, None)
    assert promoted.headers["ETag"] == '"1"'
    # Production with a canary takes staging's release, and loses its canary.
    await put(client, admin, {"release": 1, "canary": {"release": 3, "weight": 5}})
    again = await client.post(
        f"{PRODUCTION}/promote", json={"from": "staging"}, headers=admin.headers
    )
    assert again.status_code == 200
    assert (again.json()["release"], again.json()["canary"], again.json()["revision"]) == (
        2,
        None,
        3,
    )
    # Promoting what it already serves: no move.
    same = await client.post(
        f"{PRODUCTION}/promote", json={"from": "staging"}, headers=admin.headers
    )
    assert (same.status_code, same.json()["revision"]) == (200, 3)

    for body in ({"from": "nowhere"}, {"from": "Staging"}):
        unknown = await client.post(f"{PRODUCTION}/promote", json=body, headers=admin.headers)
        assert (unknown.status_code, unknown.json()["code"]) == (400, "invalid_environment")
    for body in ({}, {"from": ""}, {"from": 3}, {"from": "staging", "canary": None}):
        bad = await client.post(f"{PRODUCTION}/promote", json=body, headers=admin.headers)
        assert (bad.status_code, bad.json()["code"]) == (400, "validation_error"), body
    bad_name = await client.post(
        f"{ENVIRONMENTS}/Prod/promote", json={"from": "staging"}, headers=admin.headers
    )
    assert bad_name.status_code == 400


async def test_rollback_returns_to_the_previous_release_and_twice_toggles(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 4)
    first = await client.post(f"{PRODUCTION}/rollback", headers=admin.headers)
    assert (first.status_code, first.json()["code"]) == (404, "environment_not_found")

    await put(client, admin, {"release": 1})
    nothing = await client.post(f"{PRODUCTION}/rollback", headers=admin.headers)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "nothing_to_roll_back")
    # A canary-only move is not an earlier release.
    await put(client, admin, {"release": 1, "canary": {"release": 4, "weight": 20}})
    nothing = await client.post(f"{PRODUCTION}/rollback", json={}, headers=admin.headers)
    assert (nothing.status_code, nothing.json()["code"]) == (409, "nothing_to_roll_back")

    await put(client, admin, {"release": 2})
    await put(client, admin, {"release": 3, "canary": {"release": 4, "weight": 20}})
    # Without a body: back to 2, canary cleared.
    back = await client.post(f"{PRODUCTION}/rollback", headers=admin.headers)
    assert back.status_code == 200, back.text
    assert (back.json()["release"], back.json()["canary"]) == (2, None)
    assert back.headers["ETag"] == f'"{back.json()["revision"]}"'
    # Again (with {}): back to 3 — twice in a row toggles.
    toggled = await client.post(f"{PRODUCTION}/rollback", json={}, headers=admin.headers)
    assert toggled.json()["release"] == 3
    assert toggled.json()["canary"] is None
    toggled = await client.post(
        f"{PRODUCTION}/rollback", json={"release": None}, headers=admin.headers
    )
    assert toggled.json()["release"] == 2

    # To a given release it served.
    to_one = await client.post(f"{PRODUCTION}/rollback", json={"release": 1}, headers=admin.headers)
    assert (to_one.status_code, to_one.json()["release"]) == (200, 1)
    # Release 4 only ever served as a canary; release 9 does not exist.
    for number in (4, 9):
        refused = await client.post(
            f"{PRODUCTION}/rollback", json={"release": number}, headers=admin.headers
        )
        assert (refused.status_code, refused.json()["code"]) == (400, "not_in_history"), number
    for body in ({"release": 0}, {"release": "two"}, {"to": 2}):
        bad = await client.post(f"{PRODUCTION}/rollback", json=body, headers=admin.headers)
        assert (bad.status_code, bad.json()["code"]) == (400, "validation_error"), body

    moves = await history(client, admin)
    assert [(m["revision"], m["release"], m["previous_release"]) for m in moves] == [
        (8, 1, 2),
        (7, 2, 3),
        (6, 3, 2),
        (5, 2, 3),
        (4, 3, 2),
        (3, 2, 1),
        (2, 1, 1),
        (1, 1, None),
    ]
    assert moves[4]["canary"] == {"release": 4, "weight": 20}


async def test_history_pages_newest_first(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await releases(client, admin, create_agent, 3)
    for number in (1, 2, 3, 1, 2):
        await put(client, admin, {"release": number})
    url = f"{PRODUCTION}/history"
    page = await client.get(url, params={"limit": 2, "offset": 1}, headers=admin.headers)
    assert page.headers["X-Total-Count"] == "5"
    assert [m["revision"] for m in page.json()] == [4, 3]
    move = page.json()[0]
    assert move == {
        "revision": 4,
        "release": 1,
        "canary": None,
        "previous_release": 3,
        "actor_id": str(admin.user_id),
        "created_at": move["created_at"],
    }
    past = await client.get(url, params={"offset": 9}, headers=admin.headers)
    assert (past.json(), past.headers["X-Total-Count"]) == ([], "5")
    for params in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert (await client.get(url, params=params, headers=admin.headers)).status_code == 400


async def test_resolve_an_agent_for_a_call(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await releases(client, admin, create_agent, 2)
    outsider = await create_agent(name="Not released")
    await put(client, admin, {"release": 1, "canary": {"release": 2, "weight": 20}})
    url = f"{PRODUCTION}/agents/{agent['id']}"

    plain = await client.get(url, headers=admin.headers)
    assert plain.status_code == 200, plain.text
    assert plain.headers["X-Release"] == "1"
    assert plain.json() == {
        **{k: agent[k] for k in ("name", "instructions", "model", "voice", "tools", "modality")},
        "handoff_targets": [],
        "panels": [],
        "agent_id": agent["id"],
        "release": 1,
        "version": 1,
    }

    sent: dict[int, int] = {1: 0, 2: 0}
    for i in range(2000):
        call_id = f"call-{uuid.UUID(int=i)}"
        bucket = int.from_bytes(sha256(f"production:{call_id}".encode()).digest()[:8], "big") % 100
        expected = 2 if bucket < 20 else 1
        if i < 100:
            # Over HTTP, call by call, the same rule (and the same answer twice).
            for _ in range(2):
                response = await client.get(url, params={"call_id": call_id}, headers=admin.headers)
                assert response.headers["X-Release"] == str(expected), call_id
                assert response.json()["release"] == expected
                assert response.json()["instructions"] == (
                    agent["instructions"] if expected == 1 else "Release 2."
                )
        sent[expected] += 1
    assert 0.17 * 2000 <= sent[2] <= 0.23 * 2000

    not_member = await client.get(f"{PRODUCTION}/agents/{outsider['id']}", headers=admin.headers)
    assert (not_member.status_code, not_member.json()["code"]) == (404, "agent_not_found")
    missing = await client.get(
        f"{ENVIRONMENTS}/staging/agents/{agent['id']}", headers=admin.headers
    )
    assert (missing.status_code, missing.json()["code"]) == (404, "environment_not_found")
    for call_id in ("", "x" * 256):
        bad = await client.get(url, params={"call_id": call_id}, headers=admin.headers)
        assert bad.status_code == 400, len(call_id)
    assert (await client.get(url, params={"call_id": "x" * 255}, headers=admin.headers)).is_success


async def test_resolve_serves_what_was_released_after_edits_and_deletion(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    expert = await create_agent(name="Expert")
    triage = await create_agent(name="Triage", handoff_targets=[expert["id"]])
    await client.post("/api/v1/releases", json={}, headers=admin.headers)
    await put(client, admin, {"release": 1})
    h = admin.headers
    await client.patch(
        f"/api/v1/agents/{triage['id']}", json={"instructions": "Edited."}, headers=h
    )
    await client.delete(f"/api/v1/agents/{expert['id']}", params={"force": "true"}, headers=h)
    served_triage = (await client.get(f"{PRODUCTION}/agents/{triage['id']}", headers=h)).json()
    assert (served_triage["instructions"], served_triage["handoff_targets"]) == (
        triage["instructions"],
        [expert["id"]],
    )
    served_expert = await client.get(f"{PRODUCTION}/agents/{expert['id']}", headers=h)
    assert (served_expert.status_code, served_expert.json()["name"]) == (200, "Expert")


async def test_another_organization_s_environments_are_not_found(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await releases(client, admin, create_agent, 1)
    await put(client, admin, {"release": 1})
    other = await signup(client)
    await releases(client, other, create_agent, 1)
    h = other.headers

    def code(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    not_found = (404, "environment_not_found")
    assert code(await client.get(PRODUCTION, headers=h)) == not_found
    assert code(await client.get(f"{PRODUCTION}/history", headers=h)) == not_found
    assert code(await client.get(f"{PRODUCTION}/agents/{agent['id']}", headers=h)) == not_found
    assert code(await client.post(f"{PRODUCTION}/rollback", headers=h)) == not_found
    assert code(await client.delete(PRODUCTION, headers=h)) == not_found
    assert (await client.get(ENVIRONMENTS, headers=h)).json() == []
    # Its own production is its own (release 1 is its own release 1).
    assert (await put(client, other, {"release": 1})).status_code == 201
    assert (await client.get(PRODUCTION, headers=admin.headers)).json()["revision"] == 1
    mine = await client.get(f"{PRODUCTION}/agents/{agent['id']}", headers=h)
    assert code(mine) == (404, "agent_not_found")


async def test_roles(client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent) -> None:
    agent = await releases(client, admin, create_agent, 1)
    await put(client, admin, {"release": 1})
    member = await add_member(client, admin)
    h = member.headers
    for response in (
        await client.get(ENVIRONMENTS, headers=h),
        await client.get(PRODUCTION, headers=h),
        await client.get(f"{PRODUCTION}/history", headers=h),
        await client.get(f"{PRODUCTION}/agents/{agent['id']}", headers=h),
    ):
        assert response.status_code == 200
    for response in (
        await put(client, member, {"release": 1}),
        await client.delete(PRODUCTION, headers=h),
        await client.post(f"{PRODUCTION}/promote", json={"from": "production"}, headers=h),
        await client.post(f"{PRODUCTION}/rollback", headers=h),
    ):
        assert (response.status_code, response.json()["code"]) == (403, "forbidden")
    assert (await client.get(ENVIRONMENTS)).status_code == 401
    key = await client.post(
        "/api/v1/api-keys", json={"name": "deployer", "role": "admin"}, headers=admin.headers
    )
    key_headers = {"Authorization": f"Bearer {key.json()['key']}"}
    moved = await client.put(PRODUCTION, json={"release": 1, "canary": None}, headers=key_headers)
    assert moved.status_code == 200
    await client.post("/api/v1/releases", json={}, headers=admin.headers)
    by_key = await client.put(PRODUCTION, json={"release": 2}, headers=key_headers)
    assert by_key.json()["updated_by"] is None
    assert (await history(client, admin))[0]["actor_id"] is None


@pytest.mark.parametrize(
    ("method", "path", "operation_id"),
    [
        ("get", ENVIRONMENTS, "listEnvironments"),
        ("get", f"{ENVIRONMENTS}/{{name}}", "getEnvironment"),
        ("put", f"{ENVIRONMENTS}/{{name}}", "putEnvironment"),
        ("delete", f"{ENVIRONMENTS}/{{name}}", "deleteEnvironment"),
        ("post", f"{ENVIRONMENTS}/{{name}}/promote", "promoteEnvironment"),
        ("post", f"{ENVIRONMENTS}/{{name}}/rollback", "rollbackEnvironment"),
        ("get", f"{ENVIRONMENTS}/{{name}}/history", "listEnvironmentHistory"),
        ("get", f"{ENVIRONMENTS}/{{name}}/agents/{{agent_id}}", "resolveAgent"),
        ("get", "/api/v1/agents/{agent_id}/diff", "diffAgentVersions"),
    ],
)
async def test_documented_in_openapi(
    client: httpx.AsyncClient, method: str, path: str, operation_id: str
) -> None:
    operation = (await client.get("/schema/openapi.json")).json()["paths"][path][method]
    assert operation["operationId"] == operation_id
    assert operation["summary"]
    writes = method != "get"
    assert ("403" in operation["responses"]) is writes
    if method == "put" or path.endswith("/promote"):
        assert {"200", "201", "400", "412"} <= set(operation["responses"])
    if path.endswith("/rollback"):
        assert {"409", "412"} <= set(operation["responses"])
