"""GET /api/v1/agents/events: the organization's change feed, admin only, cursor-paged."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import msgspec
from sqlalchemy import select

from agents_core.db.database import Database
from agents_core.db.models import AgentEventRow
from agents_core.schemas import AgentEventPage
from tests.conftest import Account, CreateAgent, add_member, orm_session, signup

EVENTS = "/api/v1/agents/events"


async def all_events(client: httpx.AsyncClient, account: Account, **params: Any) -> list[Any]:
    response = await client.get(EVENTS, params=params, headers=account.headers)
    assert response.status_code == 200, response.text
    events: list[Any] = response.json()["events"]
    return events


async def test_every_change_appears_in_order(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    expert = await create_agent(name="Expert")
    triage = await create_agent(name="Triage", handoff_targets=[expert["id"]])
    base = f"/api/v1/agents/{triage['id']}"
    h = admin.headers
    assert (await client.patch(base, json={"instructions": "v2"}, headers=h)).status_code == 200
    assert (await client.post(f"{base}/versions/1/restore", headers=h)).status_code == 200
    copy = (await client.post(f"{base}/duplicate", headers=h)).json()
    deleted = await client.delete(f"/api/v1/agents/{expert['id']}?force=true", headers=h)
    assert deleted.status_code == 204
    imported = await client.post(
        "/api/v1/agents/import",
        json={"agents": [{"name": "Imported", "instructions": "x"}]},
        headers=h,
    )
    assert imported.status_code == 200, imported.text

    response = await client.get(EVENTS, headers=h)
    assert response.status_code == 200
    page = msgspec.json.decode(response.content, type=AgentEventPage)
    got = [(str(e.agent_id), e.version, e.kind.value) for e in page.events]
    assert got[:5] == [
        (expert["id"], 1, "created"),
        (triage["id"], 1, "created"),
        (triage["id"], 2, "updated"),
        (triage["id"], 3, "restored"),
        (copy["id"], 1, "duplicated"),
    ]
    assert sorted(got[5:7]) == sorted([(triage["id"], 4, "updated"), (copy["id"], 2, "updated")])
    assert got[7:] == [
        (expert["id"], 1, "deleted"),
        (imported.json()["agents"][0]["id"], 1, "imported"),
    ]
    assert all(e.organization_id == admin.organization_id for e in page.events)
    assert all(e.actor_id == admin.user_id for e in page.events)
    assert [e.id for e in page.events] == sorted(e.id for e in page.events)
    assert page.next_cursor == page.events[-1].cursor
    assert page.has_more is False


async def test_cursor_and_limit_page_through_without_gaps(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    ids = [(await create_agent())["id"] for _ in range(5)]
    seen: list[str] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["after"] = after
        response = await client.get(EVENTS, params=params, headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages += 1
        seen += [e["agent_id"] for e in body["events"]]
        assert len(body["events"]) <= 2
        if not body["has_more"]:
            break
        after = body["next_cursor"]
    assert seen == ids
    assert pages == 3
    # At the end, the cursor stays where it is and later events continue from it.
    end = body["next_cursor"]
    empty = (await client.get(EVENTS, params={"after": end}, headers=admin.headers)).json()
    assert empty == {"events": [], "next_cursor": end, "has_more": False}
    later = await create_agent()
    resumed = await all_events(client, admin, after=end)
    assert [e["agent_id"] for e in resumed] == [later["id"]]
    # Each event's own cursor resumes right after it.
    first_two = await all_events(client, admin, limit=2)
    rest = await all_events(client, admin, after=first_two[0]["cursor"])
    assert rest[0]["id"] == first_two[1]["id"]


async def test_organizations_see_only_their_own_events(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    other = await signup(client)
    await create_agent()
    assert await all_events(client, other) == []
    empty = (await client.get(EVENTS, headers=other.headers)).json()
    assert empty["next_cursor"] is None


async def test_admin_only(client: httpx.AsyncClient, admin: Account) -> None:
    member = await add_member(client, admin)
    forbidden = await client.get(EVENTS, headers=member.headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"
    anonymous = await client.get(EVENTS)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"].startswith("application/problem+json")
    api_key = await client.post(
        "/api/v1/api-keys", json={"name": "sync", "role": "admin"}, headers=admin.headers
    )
    key_headers = {"Authorization": f"Bearer {api_key.json()['key']}"}
    assert (await client.get(EVENTS, headers=key_headers)).status_code == 200


async def test_invalid_queries_are_400(client: httpx.AsyncClient, admin: Account) -> None:
    for params in (
        {"after": "nonsense"},
        {"after": "ev1_!!!"},
        {"after": "ev1_AAE"},  # a non-canonical spelling of a valid position
        {"after": "ev1_" + "A" * 80},
        {"after": "ev1_\x00"},
        {"after": "ev2_AAE"},
        {"after": "ev2_"},
        {"after": "ev3_AQ"},
        {"limit": 0},
        {"limit": 501},
        {"limit": "many"},
        {"limit": "99999999999999999999"},
    ):
        response = await client.get(EVENTS, params=params, headers=admin.headers)
        assert response.status_code == 400, (params, response.text)
        body = response.json()
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["status"] == 400
        field = next(iter(params))
        assert any(e["field"] == field for e in body.get("errors", [])), (params, body)


async def test_documented_in_openapi(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    operation = spec["paths"]["/api/v1/agents/events"]["get"]
    assert operation["tags"] == ["agents"]
    assert operation["summary"]
    assert {"400", "401", "403"} <= set(operation["responses"])
    assert {p["name"] for p in operation["parameters"]} == {"after", "limit"}


async def test_positions_and_cursors_are_per_organization(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    """Nothing in an event or a cursor tells how busy other organizations are."""
    other = await signup(client)
    for _ in range(3):
        await create_agent()
        await create_agent(other)
        await create_agent(other)
    mine = await all_events(client, admin)
    theirs = await all_events(client, other)
    assert [e["id"] for e in mine] == [1, 2, 3]
    assert [e["id"] for e in theirs] == [1, 2, 3, 4, 5, 6]
    # The same position has the same cursor in every organization.
    assert [e["cursor"] for e in mine] == [e["cursor"] for e in theirs[:3]]
    assert all(e["cursor"].startswith("ev2_") for e in mine)
    # And a cursor resumes within the organization that reads it.
    rest = await all_events(client, admin, after=mine[0]["cursor"])
    assert [e["agent_id"] for e in rest] == [e["agent_id"] for e in mine[1:]]


def legacy_cursor(event_id: int) -> str:
    """A cursor as the feed issued them before positions were per organization."""
    raw = event_id.to_bytes(8, "big").lstrip(b"\x00") or b"\x00"
    return "ev1_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


async def test_a_cursor_of_the_first_encoding_still_resumes_in_its_place(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    other = await signup(client)
    await create_agent()
    await create_agent(other)
    second = await create_agent()
    await create_agent(other)
    third = await create_agent()
    async with orm_session(database) as session:
        ids = (
            await session.scalars(
                select(AgentEventRow.id)
                .where(AgentEventRow.organization_id == admin.organization_id)
                .order_by(AgentEventRow.position)
            )
        ).all()
    assert len(ids) == 3
    # The deployment-wide id of this organization's first event: the next two follow it.
    after_first = await all_events(client, admin, after=legacy_cursor(ids[0]))
    assert [e["agent_id"] for e in after_first] == [second["id"], third["id"]]
    after_last = await client.get(
        EVENTS, params={"after": legacy_cursor(ids[2])}, headers=admin.headers
    )
    assert after_last.json() == {
        "events": [],
        "next_cursor": legacy_cursor(ids[2]),
        "has_more": False,
    }
    # An id that fell between two of our events (another organization's) resumes after the
    # earlier one.
    between = await all_events(client, admin, after=legacy_cursor(ids[1] - 1))
    assert [e["agent_id"] for e in between] == [second["id"], third["id"]]
