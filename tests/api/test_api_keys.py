"""API keys: created by an admin, shown once, stored as a hash, revocable at once."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from agents_core.db.database import Database
from agents_core.db.models import ApiKey
from tests.conftest import Account, orm_session, signup


async def _create_key(
    client: httpx.AsyncClient, admin: Account, role: str = "member", name: str = "worker"
) -> dict[str, str]:
    response = await client.post(
        "/api/v1/api-keys", json={"name": name, "role": role}, headers=admin.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, str] = response.json()
    return body


async def test_create_shows_key_once_and_list_hides_it(
    client: httpx.AsyncClient, admin: Account
) -> None:
    created = await _create_key(client, admin)
    assert set(created) == {"id", "name", "role", "prefix", "key", "created_at"}
    assert created["key"].startswith(created["prefix"])
    listed = await client.get("/api/v1/api-keys", headers=admin.headers)
    assert listed.status_code == 200
    [item] = listed.json()
    assert "key" not in item
    assert item == {k: v for k, v in created.items() if k != "key"}
    assert created["key"] not in listed.text


async def test_key_is_stored_only_as_hash(
    client: httpx.AsyncClient, admin: Account, database: Database
) -> None:
    created = await _create_key(client, admin)
    async with orm_session(database) as session:
        row = (await session.scalars(select(ApiKey).where(ApiKey.id == created["id"]))).one()
    stored = " ".join(str(v) for v in (row.key_hash, row.prefix, row.name))
    assert created["key"] not in stored
    assert len(row.key_hash) == 64


async def test_api_key_authenticates_with_its_role(
    client: httpx.AsyncClient, admin: Account
) -> None:
    member_key = await _create_key(client, admin, role="member")
    admin_key = await _create_key(client, admin, role="admin", name="deployer")
    as_member = {"Authorization": f"Bearer {member_key['key']}"}
    as_admin = {"Authorization": f"Bearer {admin_key['key']}"}

    me = await client.get("/api/v1/auth/me", headers=as_member)
    assert me.status_code == 200
    assert me.json() == {
        "user": None,
        "organization_id": str(admin.organization_id),
        "role": "member",
        "api_key": {k: v for k, v in member_key.items() if k != "key"},
    }
    assert (await client.get("/api/v1/agents", headers=as_member)).status_code == 200
    created = await client.post(
        "/api/v1/agents", json={"name": "A", "instructions": "B"}, headers=as_member
    )
    assert created.status_code == 403
    created = await client.post(
        "/api/v1/agents", json={"name": "A", "instructions": "B"}, headers=as_admin
    )
    assert created.status_code == 201
    # A change made with an API key has no user as its author.
    agent_id = created.json()["id"]
    await client.patch(f"/api/v1/agents/{agent_id}", json={"name": "A2"}, headers=as_admin)
    versions = await client.get(f"/api/v1/agents/{agent_id}/versions", headers=as_admin)
    assert versions.json()[0]["created_by"] is None


async def test_revoked_key_stops_working_at_once(client: httpx.AsyncClient, admin: Account) -> None:
    key = await _create_key(client, admin)
    headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    response = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin.headers)
    assert response.status_code == 204
    revoked = await client.get("/api/v1/auth/me", headers=headers)
    assert revoked.status_code == 401
    assert (await client.get("/api/v1/api-keys", headers=admin.headers)).json() == []
    again = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=admin.headers)
    assert again.status_code == 404


async def test_keys_are_scoped_and_admin_only(
    client: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    key = await _create_key(client, admin)
    other = await signup(client)
    # One request id for both, so that the whole answers can be compared.
    headers = {**other.headers, "X-Request-ID": "same-id"}
    foreign = await client.delete(f"/api/v1/api-keys/{key['id']}", headers=headers)
    missing = await client.delete(f"/api/v1/api-keys/{uuid.uuid4()}", headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert (await client.get("/api/v1/api-keys", headers=other.headers)).json() == []
    for method, path in [
        ("GET", "/api/v1/api-keys"),
        ("POST", "/api/v1/api-keys"),
        ("DELETE", f"/api/v1/api-keys/{key['id']}"),
    ]:
        body = {"name": "x", "role": "member"} if method == "POST" else None
        response = await client.request(method, path, json=body, headers=member.headers)
        assert response.status_code == 403
    # The key still works: the member's attempt changed nothing.
    assert (
        await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {key['key']}"})
    ).status_code == 200


async def test_create_key_validation(client: httpx.AsyncClient, admin: Account) -> None:
    for body, field in [
        ({"name": "", "role": "member"}, "name"),
        ({"name": "x", "role": "root"}, "role"),
        ({"name": "x"}, "role"),
        ({"name": "x", "role": "member", "key": "agk_chosen"}, "key"),
    ]:
        response = await client.post("/api/v1/api-keys", json=body, headers=admin.headers)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
