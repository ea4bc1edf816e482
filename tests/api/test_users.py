"""Users: create, list, patch, last-admin protection, org scoping, roles."""

from __future__ import annotations

import uuid

import httpx

from tests.conftest import Account, add_member, signup, unique_email


async def test_create_and_list_users(client: httpx.AsyncClient, admin: Account) -> None:
    email = unique_email()
    response = await client.post(
        "/api/v1/users",
        json={"email": email, "password": "a password", "role": "member", "full_name": "Bo"},
        headers=admin.headers,
    )
    assert response.status_code == 201
    user = response.json()
    assert user["organization_id"] == str(admin.organization_id)
    assert user["role"] == "member"
    assert user["full_name"] == "Bo"
    assert "password" not in response.text
    listed = await client.get("/api/v1/users", headers=admin.headers)
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()] == [admin.email, email]


async def test_create_user_email_taken(client: httpx.AsyncClient, admin: Account) -> None:
    other = await signup(client)
    response = await client.post(
        "/api/v1/users",
        json={"email": other.email.title(), "password": "a password", "role": "member"},
        headers=admin.headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "email_taken"


async def test_create_user_validation(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/users",
        json={"email": unique_email(), "password": "a password", "role": "owner"},
        headers=admin.headers,
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "role"


async def test_users_are_scoped_to_the_organization(
    client: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    other = await signup(client)
    listed = await client.get("/api/v1/users", headers=other.headers)
    assert [u["email"] for u in listed.json()] == [other.email]
    # Another organization's user is 404, exactly like a user that never existed.
    # One request id for both, so that the whole answers can be compared.
    headers = {**other.headers, "X-Request-ID": "same-id"}
    foreign = await client.patch(
        f"/api/v1/users/{member.user_id}", json={"full_name": "x"}, headers=headers
    )
    missing = await client.patch(
        f"/api/v1/users/{uuid.uuid4()}", json={"full_name": "x"}, headers=headers
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()


async def test_member_cannot_manage_users(client: httpx.AsyncClient, member: Account) -> None:
    for method, path, body in [
        ("GET", "/api/v1/users", None),
        (
            "POST",
            "/api/v1/users",
            {"email": unique_email(), "password": "pw123456", "role": "admin"},
        ),
        ("PATCH", f"/api/v1/users/{member.user_id}", {"role": "admin"}),
    ]:
        response = await client.request(method, path, json=body, headers=member.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "forbidden"


async def test_patch_user(client: httpx.AsyncClient, admin: Account, member: Account) -> None:
    response = await client.patch(
        f"/api/v1/users/{member.user_id}",
        json={"full_name": "Renamed", "role": "admin"},
        headers=admin.headers,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["full_name"], body["role"], body["is_active"]) == ("Renamed", "admin", True)
    cleared = await client.patch(
        f"/api/v1/users/{member.user_id}", json={"full_name": None}, headers=admin.headers
    )
    assert cleared.json()["full_name"] is None
    assert cleared.json()["role"] == "admin"


async def test_patch_rejects_unknown_and_server_fields(
    client: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    for body in ({"email": "x@y.io"}, {"organization_id": str(uuid.uuid4())}, {"role": "boss"}):
        response = await client.patch(
            f"/api/v1/users/{member.user_id}", json=body, headers=admin.headers
        )
        assert response.status_code == 400, body


async def test_last_admin_cannot_be_demoted_or_deactivated(
    client: httpx.AsyncClient, admin: Account
) -> None:
    for body in ({"role": "member"}, {"is_active": False}):
        response = await client.patch(
            f"/api/v1/users/{admin.user_id}", json=body, headers=admin.headers
        )
        assert response.status_code == 409
        assert response.json()["code"] == "last_admin"
    # With a second active admin, the first may step down.
    second = await add_member(client, admin, role="admin")
    response = await client.patch(
        f"/api/v1/users/{admin.user_id}", json={"role": "member"}, headers=admin.headers
    )
    assert response.status_code == 200
    # …and now the second is the last admin.
    response = await client.patch(
        f"/api/v1/users/{second.user_id}", json={"is_active": False}, headers=second.headers
    )
    assert response.status_code == 409
    assert response.json()["code"] == "last_admin"


async def test_deactivated_admin_does_not_count_as_active_admin(
    client: httpx.AsyncClient, admin: Account
) -> None:
    second = await add_member(client, admin, role="admin")
    response = await client.patch(
        f"/api/v1/users/{second.user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200
    response = await client.patch(
        f"/api/v1/users/{admin.user_id}", json={"role": "member"}, headers=admin.headers
    )
    assert response.status_code == 409
