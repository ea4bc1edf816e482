"""GET /api/v1/agents/export and POST /api/v1/agents/import."""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from agents_core.agents.service import EXPORT_CHUNK
from agents_core.db.database import Database
from agents_core.db.models import Agent, AgentEventRow, AgentVersion
from tests.conftest import (
    Account,
    CreateAgent,
    add_member,
    counting_statements,
    orm_session,
    signup,
)

EXPORT_FIELDS = {
    "name",
    "instructions",
    "model",
    "voice",
    "modality",
    "panels",
    "tools",
    "handoff_targets",
}
CONFIG = ("instructions", "model", "voice", "tools", "modality", "panels")


def portable(name: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": name, "instructions": f"You are {name}."}
    body.update(fields)
    return body


async def export(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/agents/export", headers=account.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()
    return items


async def import_agents(
    client: httpx.AsyncClient,
    account: Account,
    agents: list[dict[str, Any]],
    *,
    dry_run: bool | None = None,
) -> httpx.Response:
    params = {} if dry_run is None else {"dry_run": str(dry_run).lower()}
    return await client.post(
        "/api/v1/agents/import", json={"agents": agents}, params=params, headers=account.headers
    )


async def listing(client: httpx.AsyncClient, account: Account) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/agents", params={"limit": 500}, headers=account.headers)
    assert response.status_code == 200
    agents: list[dict[str, Any]] = response.json()
    return agents


def graph(agents: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Agent name → the names it hands off to (from AgentPublic documents)."""
    names = {a["id"]: a["name"] for a in agents}
    return {a["name"]: [names[t] for t in a["handoff_targets"]] for a in agents}


async def build_team(create_agent: CreateAgent, account: Account) -> list[dict[str, Any]]:
    """A small organization: a triage agent, experts that hand back, one plain agent."""
    coder = await create_agent(
        account,
        name="Coding Expert",
        instructions="Help with code.",
        model="gpt-4.1",
        voice="verse",
        tools=["run_code", "search_docs"],
        modality="audio_screenshare",
        panels=["coding_ide", "notepad"],
    )
    billing = await create_agent(account, name="Billing", voice=None, tools=["invoices"])
    triage = await create_agent(
        account,
        name="Triage",
        instructions="Route the caller.",
        handoff_targets=[coder["id"], billing["id"]],
        modality="audio_camera",
        panels=["whiteboard"],
    )
    plain = await create_agent(account, name="Plain")
    return [coder, billing, triage, plain]


async def test_export_is_portable_with_handoffs_as_names(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await build_team(create_agent, admin)
    deleted = await create_agent(name="Deleted")
    await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    await create_agent(await signup(client), name="Someone else's")

    exported = await export(client, admin)
    assert [item["name"] for item in exported] == ["Coding Expert", "Billing", "Triage", "Plain"]
    for item in exported:
        assert set(item) == EXPORT_FIELDS
    by_name = {item["name"]: item for item in exported}
    assert by_name["Triage"]["handoff_targets"] == ["Coding Expert", "Billing"]
    assert by_name["Coding Expert"] == {
        "name": "Coding Expert",
        "instructions": "Help with code.",
        "model": "gpt-4.1",
        "voice": "verse",
        "modality": "audio_screenshare",
        "panels": ["coding_ide", "notepad"],
        "tools": ["run_code", "search_docs"],
        "handoff_targets": [],
    }
    assert by_name["Billing"]["voice"] is None
    assert by_name["Billing"]["model"] == "gpt-4.1-mini"


async def test_export_of_an_empty_organization(client: httpx.AsyncClient, admin: Account) -> None:
    assert await export(client, admin) == []


async def test_export_then_import_reproduces_the_organization(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    team = await build_team(create_agent, admin)
    # A cycle: the coding expert hands back to triage.
    coder, _, triage, _ = team
    patched = await client.patch(
        f"/api/v1/agents/{coder['id']}",
        json={"handoff_targets": [triage["id"]]},
        headers=admin.headers,
    )
    assert patched.status_code == 200
    source_agents = await listing(client, admin)
    exported = await export(client, admin)

    target = await signup(client)
    # Any order works: targets may come after the item that names them.
    shuffled = list(reversed(exported))
    response = await import_agents(client, target, shuffled)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["created"] == 4
    assert result["skipped"] == 0
    assert result["skipped_names"] == []
    assert [a["name"] for a in result["agents"]] == [item["name"] for item in shuffled]

    imported = await listing(client, target)
    assert len(imported) == len(source_agents) == 4
    source_by_name = {a["name"]: a for a in source_agents}
    for agent in imported:
        original = source_by_name[agent["name"]]
        for field in CONFIG:
            assert agent[field] == original[field], (agent["name"], field)
        assert agent["organization_id"] == str(target.organization_id)
        assert agent["id"] != original["id"]
        assert agent["current_version"] == 1
        assert agent["is_active"] is True
    assert graph(imported) == graph(source_agents)
    assert graph(imported)["Triage"] == ["Coding Expert", "Billing"]
    assert graph(imported)["Coding Expert"] == ["Triage"]
    # The response's agents are the stored ones.
    by_id = {a["id"]: a for a in imported}
    for agent in result["agents"]:
        assert by_id[agent["id"]] == agent

    # And it exports identically, in both directions.
    assert sorted(await export(client, target), key=lambda a: a["name"]) == sorted(
        exported, key=lambda a: a["name"]
    )

    # Imported agents have no history and one "imported" event each, by the importing user.
    ids = [uuid.UUID(a["id"]) for a in imported]
    async with orm_session(database) as session:
        versions = await session.scalar(
            select(func.count()).select_from(AgentVersion).where(AgentVersion.agent_id.in_(ids))
        )
        events = (
            await session.execute(
                select(AgentEventRow.agent_id, AgentEventRow.kind, AgentEventRow.actor_id).where(
                    AgentEventRow.agent_id.in_(ids)
                )
            )
        ).all()
    assert versions == 0
    assert sorted(e[0] for e in events) == sorted(ids)
    assert {(e[1], e[2]) for e in events} == {("imported", target.user_id)}


async def test_import_defaults_and_a_forward_reference(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await import_agents(
        client,
        admin,
        [
            portable("Front Desk", handoff_targets=["back office"]),
            portable("Back Office", model=None, voice=None, modality=None),
        ],
    )
    assert response.status_code == 200, response.text
    front, back = response.json()["agents"]
    assert front["handoff_targets"] == [back["id"]]
    assert back["model"] == "gpt-4.1-mini"
    assert back["modality"] == "audio_only"
    assert back["voice"] is None
    assert back["tools"] == back["panels"] == back["handoff_targets"] == []


async def test_existing_names_and_batch_duplicates_are_skipped(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    existing = await create_agent(name="Sales", instructions="The original.")
    response = await import_agents(
        client,
        admin,
        [
            portable("SALES", instructions="Would replace the original."),
            portable("Support"),
            portable("support", instructions="A second one in the batch."),
            # Hands off to the skipped "sales": resolves to the existing agent of that name.
            portable("Router", handoff_targets=["Sales", "SUPPORT"]),
        ],
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["created"] == 2
    assert result["skipped"] == 2
    assert result["skipped_names"] == ["SALES", "support"]
    assert result["created_names"] == ["Support", "Router"]
    support, router = result["agents"]
    assert support["instructions"] == "You are Support."
    assert router["handoff_targets"] == [existing["id"], support["id"]]

    agents = await listing(client, admin)
    assert sorted(a["name"] for a in agents) == ["Router", "Sales", "Support"]
    sales = next(a for a in agents if a["name"] == "Sales")
    assert sales == existing

    # Importing the same batch again skips everything.
    again = await import_agents(
        client, admin, [portable("Support"), portable("Router", handoff_targets=["Sales"])]
    )
    assert again.json()["created"] == 0
    assert again.json()["skipped"] == 2
    assert again.json()["agents"] == []


async def test_a_deleted_agent_name_is_free_to_import(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    old = await create_agent(name="Reborn")
    await client.delete(f"/api/v1/agents/{old['id']}", headers=admin.headers)
    response = await import_agents(client, admin, [portable("Reborn")])
    assert response.json()["created"] == 1
    assert response.json()["agents"][0]["id"] != old["id"]


async def test_one_bad_item_fails_the_batch_and_creates_nothing(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    deleted = await create_agent(name="Retired")
    await client.delete(f"/api/v1/agents/{deleted['id']}", headers=admin.headers)
    await create_agent(await signup(client), name="Foreign Expert")

    batch = [
        portable("One"),
        portable("Two", handoff_targets=["One"]),
        portable("Three"),
        portable("Four", handoff_targets=["Three", "Nobody"]),
        portable("Five", handoff_targets=["Retired"]),
        portable("Six", handoff_targets=["Foreign Expert"]),
        portable("Seven", handoff_targets=["seven"]),
    ]
    response = await import_agents(client, admin, batch)
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid_handoff_targets"
    assert [e["field"] for e in problem["errors"]] == [
        "agents[3].handoff_targets[1]",
        "agents[4].handoff_targets[0]",
        "agents[5].handoff_targets[0]",
        "agents[6].handoff_targets[0]",
    ]
    assert "Nobody" in problem["errors"][0]["message"]
    assert "itself" in problem["errors"][3]["message"]
    assert "3, 4, 5, 6" in problem["detail"]

    assert [a["name"] for a in await listing(client, admin)] == []
    async with orm_session(database) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Agent)
            .where(Agent.organization_id == admin.organization_id)
        )
    assert count == 1  # only the deleted one


@pytest.mark.parametrize(
    ("item", "field"),
    [
        ({"name": "", "instructions": "x"}, "agents[2].name"),
        ({"name": "Blank", "instructions": "   "}, "agents[2].instructions"),
        ({"name": "x" * 256, "instructions": "x"}, "agents[2].name"),
        ({"name": "Panels", "instructions": "x", "panels": ["hologram"]}, "agents[2].panels[0]"),
        (
            {"name": "Dupes", "instructions": "x", "handoff_targets": ["A", "a"]},
            "agents[2].handoff_targets[1]",
        ),
        ({"name": "Extra", "instructions": "x", "id": str(uuid.uuid4())}, "agents[2].id"),
        ({"instructions": "no name"}, "agents[2].name"),
    ],
)
async def test_a_malformed_item_fails_the_batch_naming_its_index(
    client: httpx.AsyncClient, admin: Account, item: dict[str, Any], field: str
) -> None:
    response = await import_agents(client, admin, [portable("A"), portable("B"), item])
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await listing(client, admin) == []


async def test_dry_run_reports_and_writes_nothing(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    await create_agent(name="Existing")
    batch = [portable("Existing"), portable("New", handoff_targets=["Existing", "Newer"])]
    batch.append(portable("Newer"))

    async with orm_session(database) as session:
        events_before = await session.scalar(select(func.count()).select_from(AgentEventRow))
    response = await import_agents(client, admin, batch, dry_run=True)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "created": 2,
        "skipped": 1,
        "agents": [],
        "created_names": ["New", "Newer"],
        "skipped_names": ["Existing"],
        "dry_run": True,
    }
    assert [a["name"] for a in await listing(client, admin)] == ["Existing"]
    async with orm_session(database) as session:
        events_after = await session.scalar(select(func.count()).select_from(AgentEventRow))
    assert events_after == events_before

    # A dry run reports an invalid batch like a real one.
    bad = await import_agents(
        client, admin, [portable("X", handoff_targets=["Missing"])], dry_run=True
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "agents[0].handoff_targets[0]"

    # The same batch for real.
    real = await import_agents(client, admin, batch, dry_run=False)
    assert real.json()["created"] == 2
    assert real.json()["dry_run"] is False
    assert sorted(a["name"] for a in await listing(client, admin)) == ["Existing", "New", "Newer"]


async def test_empty_batch(client: httpx.AsyncClient, admin: Account) -> None:
    response = await import_agents(client, admin, [])
    assert response.status_code == 200
    assert response.json()["created"] == response.json()["skipped"] == 0


def big_batch(size: int) -> list[dict[str, Any]]:
    """``size`` agents, each handing off to a few others, in shuffled order."""
    rng = random.Random(size)
    names = [f"Agent {i:04d}" for i in range(size)]
    batch = [
        portable(
            name,
            # Mixed null / set values, so that no per-row grouping can hide in the insert.
            voice="alloy" if i % 2 else None,
            model=None if i % 3 else "gpt-4.1",
            tools=[f"tool_{i % 7}", "search"],
            panels=["notepad"] if i % 2 else [],
            handoff_targets=rng.sample([n for n in names if n != name], k=min(3, size - 1)),
        )
        for i, name in enumerate(names)
    ]
    rng.shuffle(batch)
    return batch


async def test_statement_count_does_not_grow_with_the_batch(
    client: httpx.AsyncClient, database: Database
) -> None:
    counts = []
    for size in (5, 50, 200):
        account = await signup(client)
        # Existing agents to resolve against and to skip.
        warmup = await import_agents(client, account, [portable("Existing")])
        assert warmup.status_code == 200
        batch = [*big_batch(size), portable("existing")]
        batch[0]["handoff_targets"] = [*batch[0]["handoff_targets"][:2], "Existing"]
        with counting_statements(database) as count:
            response = await import_agents(client, account, batch)
        counts.append(count.value)
        assert response.status_code == 200, response.text
        assert response.json()["created"] == size
        assert response.json()["skipped"] == 1
        assert len(await listing(client, account)) == size + 1
    assert counts[0] == counts[1] == counts[2], counts
    # Authentication, one read of the existing names, one INSERT of agents, and the event
    # feed's few statements (insert, notify): a handful, whatever the size.
    assert counts[0] <= 8, counts

    # Export reads a chunk at a time (its memory does not grow with the organization): the
    # chunk and its handoff targets' names, two statements per EXPORT_CHUNK agents.
    with counting_statements(database) as count:
        exported = await export(client, account)
    assert len(exported) == 201
    chunks = -(-201 // EXPORT_CHUNK)
    assert count.value <= 1 + 2 * chunks, count.value


async def test_member_is_forbidden(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent(name="Secret")
    member = await add_member(client, admin)
    exported = await client.get("/api/v1/agents/export", headers=member.headers)
    assert exported.status_code == 403
    assert exported.json()["code"] == "forbidden"
    imported = await import_agents(client, member, [portable("Sneaky")])
    assert imported.status_code == 403
    assert imported.json()["code"] == "forbidden"
    dry = await import_agents(client, member, [portable("Sneaky")], dry_run=True)
    assert dry.status_code == 403
    assert [a["name"] for a in await listing(client, admin)] == ["Secret"]

    for method, path in (("GET", "/api/v1/agents/export"), ("POST", "/api/v1/agents/import")):
        anonymous = await client.request(method, path, json={"agents": []})
        assert anonymous.status_code == 401


async def test_organizations_are_isolated(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    await create_agent(name="Ours")
    other = await signup(client)
    await create_agent(other, name="Theirs")

    assert [a["name"] for a in await export(client, admin)] == ["Ours"]
    assert [a["name"] for a in await export(client, other)] == ["Theirs"]

    # A name that exists only in the other organization neither skips nor resolves.
    response = await import_agents(client, admin, [portable("Theirs")])
    assert response.json()["created"] == 1
    bad = await import_agents(client, other, [portable("Mine", handoff_targets=["Ours"])])
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_handoff_targets"
    assert sorted(a["name"] for a in await listing(client, admin)) == ["Ours", "Theirs"]
    assert [a["name"] for a in await listing(client, other)] == ["Theirs"]


async def test_static_paths_win_over_agent_ids(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    agent = await create_agent(name="Routing")
    # /export is the export, not an agent lookup; GET /import is not a route for an agent.
    assert (await client.get("/api/v1/agents/export", headers=admin.headers)).json()[0][
        "name"
    ] == "Routing"
    get_import = await client.get("/api/v1/agents/import", headers=admin.headers)
    assert get_import.status_code in {404, 405}
    assert get_import.json().get("code") != "agent_not_found"
    # And agent routes still work beside them.
    assert (
        await client.get(f"/api/v1/agents/{agent['id']}", headers=admin.headers)
    ).status_code == 200


async def test_concurrent_imports_of_the_same_names(
    client: httpx.AsyncClient, admin: Account
) -> None:
    batch = [portable("Twin A"), portable("Twin B", handoff_targets=["Twin A"])]
    responses = await asyncio.gather(*(import_agents(client, admin, batch) for _ in range(3)))
    statuses = sorted(r.status_code for r in responses)
    # One wins; the others either saw its names (skipped) or lost the race (409), never a 500.
    assert set(statuses) <= {200, 409}, [r.text for r in responses]
    created = sum(r.json()["created"] for r in responses if r.status_code == 200)
    assert created == 2
    assert sorted(a["name"] for a in await listing(client, admin)) == ["Twin A", "Twin B"]


async def test_more_names_than_a_statement_has_parameters(
    client: httpx.AsyncClient, admin: Account
) -> None:
    # 40,000 distinct handoff names (under the 1 MiB body limit) are one query parameter.
    targets = [f"n{i}" for i in range(40_000)]
    response = await import_agents(client, admin, [portable("Hub", handoff_targets=targets)])
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["code"] == "invalid_handoff_targets"
    assert len(problem["errors"]) == 100  # capped, the first ones
    assert problem["errors"][0]["field"] == "agents[0].handoff_targets[0]"
    assert "index 0" in problem["detail"]


async def test_names_distinct_in_lower_case_round_trip(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent
) -> None:
    # Distinct for the database (lower-case), equal under Unicode case folding.
    street = await create_agent(name="Straße")
    shout = await create_agent(name="STRASSE")
    await create_agent(name="Hub", handoff_targets=[street["id"], shout["id"]])
    exported = await export(client, admin)
    hub = next(a for a in exported if a["name"] == "Hub")
    assert hub["handoff_targets"] == ["Straße", "STRASSE"]

    target = await signup(client)
    response = await import_agents(client, target, exported)
    assert response.status_code == 200, response.text
    assert graph(await listing(client, target)) == graph(await listing(client, admin))
