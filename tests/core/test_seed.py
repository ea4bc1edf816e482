"""The demo seed: what it creates, and that a second run changes nothing."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from uuid import UUID

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from agents_api.cli import seed_command
from agents_core.db.database import Database
from agents_core.db.models import (
    Agent,
    AgentEventRow,
    AgentVersion,
    Environment,
    Organization,
    Release,
    User,
)
from agents_core.errors import Conflict, InvalidInput
from agents_core.seed import SAMPLE_AGENTS, seed_demo
from tests.conftest import orm_session, unique_email


async def organization_rows(database: Database, organization_id: UUID) -> dict[str, Any]:
    """Every row the seed can touch for this organization, as plain tuples."""
    async with orm_session(database) as session:
        organizations = (
            await session.execute(
                select(Organization.id, Organization.name, Organization.updated_at).where(
                    Organization.id == organization_id
                )
            )
        ).all()
        users = (
            await session.execute(
                select(User.id, User.email, User.role, User.password_hash, User.updated_at).where(
                    User.organization_id == organization_id
                )
            )
        ).all()
        agents = (
            await session.execute(
                select(
                    Agent.id,
                    Agent.name,
                    Agent.instructions,
                    Agent.model,
                    Agent.voice,
                    Agent.handoff_targets,
                    Agent.tools,
                    Agent.modality,
                    Agent.panels,
                    Agent.is_active,
                    Agent.current_version,
                    Agent.updated_at,
                ).where(Agent.organization_id == organization_id)
            )
        ).all()
        versions = (
            await session.execute(
                select(AgentVersion.id)
                .join(Agent, Agent.id == AgentVersion.agent_id)
                .where(Agent.organization_id == organization_id)
            )
        ).all()
        events = (
            await session.execute(
                select(AgentEventRow.id, AgentEventRow.kind).where(
                    AgentEventRow.organization_id == organization_id
                )
            )
        ).all()
        releases = (
            await session.execute(
                select(Release.id, Release.number).where(Release.organization_id == organization_id)
            )
        ).all()
        environments = (
            await session.execute(
                select(Environment.name, Environment.release, Environment.revision).where(
                    Environment.organization_id == organization_id
                )
            )
        ).all()
    return {
        "releases": sorted(map(tuple, releases)),
        "environments": sorted(map(tuple, environments)),
        "organizations": sorted(map(tuple, organizations)),
        "users": sorted(map(tuple, users)),
        "agents": sorted(map(tuple, agents)),
        "versions": sorted(map(tuple, versions)),
        "events": sorted(map(tuple, events)),
    }


async def test_seed_creates_the_demo_and_a_second_run_changes_nothing(
    database: Database, client: httpx.AsyncClient
) -> None:
    admin_email, member_email = unique_email("demo-admin"), unique_email("demo-member")
    name = f"Demo {secrets.token_hex(3)}"
    async with database.connect() as conn:
        first = await seed_demo(
            conn,
            organization_name=name,
            admin_email=admin_email,
            member_email=member_email,
            member_password="member password",
        )
    assert first.changed
    assert first.organization_created
    assert first.organization_name == name
    assert first.admin.created
    assert first.member.created
    assert first.admin.password is not None
    assert len(first.admin.password) >= 16
    assert first.member.password == "member password"
    assert first.agents_created == ["Triage Agent", "Coding Expert"]
    assert first.agents_existing == []

    rows = await organization_rows(database, first.organization_id)
    assert [r[1] for r in rows["organizations"]] == [name]
    assert sorted((r[1], r[2]) for r in rows["users"]) == sorted(
        [(admin_email, "admin"), (member_email, "member")]
    )
    assert rows["versions"] == []
    assert sorted(r[1] for r in rows["events"]) == ["deployed", "imported", "imported", "released"]
    # The sample agents are released, and production serves the release.
    assert first.release == 1
    assert first.release_created
    assert first.environment_changed
    assert [r[1] for r in rows["releases"]] == [1]
    assert rows["environments"] == [("production", 1, 1)]

    # The printed credentials work, with the roles they claim.
    login = await client.post(
        "/api/v1/auth/login", json={"email": admin_email, "password": first.admin.password}
    )
    assert login.status_code == 200
    admin_headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    member_login = await client.post(
        "/api/v1/auth/login", json={"email": member_email, "password": "member password"}
    )
    assert member_login.status_code == 200
    member_headers = {"Authorization": f"Bearer {member_login.json()['access_token']}"}
    me = await client.get("/api/v1/auth/me", headers=member_headers)
    assert me.json()["role"] == "member"

    agents = (await client.get("/api/v1/agents", headers=member_headers)).json()
    by_name = {a["name"]: a for a in agents}
    assert set(by_name) == {"Triage Agent", "Coding Expert"}
    triage, coder = by_name["Triage Agent"], by_name["Coding Expert"]
    served = await client.get(
        f"/api/v1/environments/production/agents/{triage['id']}", headers=member_headers
    )
    assert served.status_code == 200
    assert served.headers["X-Release"] == "1"
    assert served.json()["handoff_targets"] == [coder["id"]]
    assert triage["handoff_targets"] == [coder["id"]]
    assert coder["panels"] == ["coding_ide"]
    assert coder["modality"] == "audio_screenshare"
    assert coder["handoff_targets"] == []
    assert "Coding Expert" in triage["instructions"]
    assert len(triage["instructions"]) > 300
    # The export is exactly the sample definitions.
    exported = (await client.get("/api/v1/agents/export", headers=admin_headers)).json()
    assert sorted(exported, key=lambda a: a["name"]) == sorted(
        (
            {
                "name": a.name,
                "instructions": a.instructions,
                "model": a.model,
                "voice": a.voice,
                "modality": a.modality,
                "panels": a.panels,
                "tools": a.tools,
                "handoff_targets": a.handoff_targets,
            }
            for a in SAMPLE_AGENTS
        ),
        key=lambda a: str(a["name"]),
    )

    # Second run, even with a password given: nothing changes, and it says so.
    async with database.connect() as conn:
        second = await seed_demo(
            conn,
            organization_name=name,
            admin_email=admin_email.upper(),
            admin_password="a different password",
            member_email=member_email,
        )
    assert not second.changed
    assert second.organization_id == first.organization_id
    assert not second.organization_created
    assert not second.admin.created
    assert second.admin.password is None
    assert not second.member.created
    assert second.member.password is None
    assert second.agents_created == []
    assert second.agents_existing == ["Triage Agent", "Coding Expert"]
    assert second.release == 1
    assert not second.release_created
    assert not second.environment_changed
    assert await organization_rows(database, first.organization_id) == rows


async def test_seed_restores_a_deleted_sample_agent_only(
    database: Database, client: httpx.AsyncClient
) -> None:
    admin_email = unique_email("demo-admin")
    async with database.connect() as conn:
        first = await seed_demo(
            conn,
            admin_email=admin_email,
            admin_password="admin password",
            member_email=unique_email("demo-member"),
        )
    login = await client.post(
        "/api/v1/auth/login", json={"email": admin_email, "password": "admin password"}
    )
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    agents = {a["name"]: a for a in (await client.get("/api/v1/agents", headers=headers)).json()}
    deleted = await client.delete(
        f"/api/v1/agents/{agents['Coding Expert']['id']}",
        params={"force": "true"},
        headers=headers,
    )
    assert deleted.status_code == 204

    async with database.connect() as conn:
        again = await seed_demo(conn, admin_email=admin_email, member_email=first.member.email)
    assert again.agents_created == ["Coding Expert"]
    assert again.agents_existing == ["Triage Agent"]
    # The restored agent is released, and production moves to that release.
    assert (again.release, again.release_created, again.environment_changed) == (2, True, True)
    production = await client.get("/api/v1/environments/production", headers=headers)
    assert production.json()["release"] == 2
    assert production.json()["revision"] == 2
    after = {a["name"]: a for a in (await client.get("/api/v1/agents", headers=headers)).json()}
    # The triage agent is left as the admin left it (its handoff was removed by the delete).
    assert after["Triage Agent"] == {
        **agents["Triage Agent"],
        "handoff_targets": [],
        "current_version": 2,
        "updated_at": after["Triage Agent"]["updated_at"],
    }


async def test_seed_refuses_emails_of_other_organizations(
    database: Database, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={
            "organization_name": "Elsewhere",
            "email": (taken := unique_email("taken")),
            "password": "password 123",
        },
    )
    assert response.status_code == 201
    new_admin = unique_email("admin")
    with pytest.raises(Conflict):
        async with database.connect() as conn:
            await seed_demo(conn, admin_email=new_admin, member_email=taken)
    # All or nothing: the failed run left no demo admin (or organization) behind.
    async with orm_session(database) as session:
        found = await session.scalar(select(User.id).where(User.email == new_admin))
    assert found is None
    with pytest.raises(InvalidInput):
        async with database.connect() as conn:
            await seed_demo(
                conn,
                admin_email=unique_email("a"),
                admin_password="short",
                member_email=unique_email("m"),
            )


def test_seed_command_twice(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTS_DATABASE_URL", pg_url)
    monkeypatch.setenv("AGENTS_SECRET_KEY", "s" * 40)
    admin_email, member_email = unique_email("cli-admin"), unique_email("cli-member")
    args = ["--admin-email", admin_email, "--member-email", member_email]
    runner = CliRunner()
    first = runner.invoke(seed_command, [*args, "--member-password", "member secret 1"])
    assert first.exit_code == 0, first.output
    assert "created" in first.output
    assert "password: member secret 1" in first.output
    assert "Triage Agent: created" in first.output
    assert "release 1: created" in first.output
    assert "environment production -> release 1: created or moved" in first.output
    assert "Nothing to do" not in first.output

    second = runner.invoke(seed_command, args)
    assert second.exit_code == 0, second.output
    assert "Nothing to do: the demo data is already in place." in second.output
    assert "Coding Expert: already there" in second.output
    assert "password:" not in second.output

    # The rows really are there (checked outside the command's own event loop).
    async def count_agents() -> int:
        database = Database(pg_url)
        try:
            async with orm_session(database) as session:
                user = await session.scalar(select(User).where(User.email == admin_email))
                assert user is not None
                names = (
                    await session.scalars(
                        select(Agent.name).where(
                            Agent.organization_id == user.organization_id,
                            Agent.is_active.is_(True),
                        )
                    )
                ).all()
                return len(names)
        finally:
            await database.close()

    assert asyncio.run(count_agents()) == 2

    bad = runner.invoke(
        seed_command, ["--admin-email", unique_email("x"), "--member-email", admin_email]
    )
    assert bad.exit_code == 1
    assert "another organization" in bad.output
