"""Sign-up, login, tokens, /auth/me: every row of API.md's Authentication table."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import pytest
from litestar import Litestar
from sqlalchemy import select

from agents_api.app import create_app
from agents_api.tokens import AUDIENCE, ISSUER
from agents_core.db.database import Database
from agents_core.db.models import User
from tests.conftest import SECRET, Account, make_settings, orm_session, signup, unique_email


async def test_signup_creates_organization_and_admin(client: httpx.AsyncClient) -> None:
    email = unique_email("Founder")
    response = await client.post(
        "/api/v1/auth/signup",
        json={
            "organization_name": "Acme Voice",
            "email": email,
            "password": "long enough",
            "full_name": "Ada Lovelace",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["organization"]["name"] == "Acme Voice"
    user = body["user"]
    assert user["role"] == "admin"
    assert user["email"] == email
    assert user["full_name"] == "Ada Lovelace"
    assert user["is_active"] is True
    assert user["organization_id"] == body["organization"]["id"]
    assert "password" not in response.text
    assert set(user) == {
        "id",
        "organization_id",
        "email",
        "full_name",
        "role",
        "is_active",
        "created_at",
        "updated_at",
    }
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json() == user


async def test_signup_email_taken_case_insensitive(
    client: httpx.AsyncClient, admin: Account
) -> None:
    response = await client.post(
        "/api/v1/auth/signup",
        json={
            "organization_name": "Other",
            "email": admin.email.upper(),
            "password": "long enough",
        },
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "email_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"organization_name": "A", "email": "a@b.io", "password": "short"}, "password"),
        ({"organization_name": "A", "email": "not-an-email", "password": "long enough"}, "email"),
        (
            {"organization_name": "   ", "email": "a@b.io", "password": "long enough"},
            "organization_name",
        ),
        ({"email": "a@b.io", "password": "long enough"}, "organization_name"),
        (
            {"organization_name": "A", "email": "a@b.io", "password": "long enough", "role": "x"},
            "role",
        ),
    ],
)
async def test_signup_validation(
    client: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    response = await client.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 400
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["status"] == 400
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_signup_can_be_turned_off(pg_url: str, database: Database) -> None:
    app = create_app(make_settings(pg_url, allow_signup=False), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.post(
            "/api/v1/auth/signup",
            json={"organization_name": "A", "email": unique_email(), "password": "long enough"},
        )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


async def test_login(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/auth/login", json={"email": admin.email.upper(), "password": admin.password}
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer"
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == str(admin.user_id)


async def test_login_does_not_reveal_whether_email_exists(
    client: httpx.AsyncClient, admin: Account
) -> None:
    # One request id for both, so that the whole answers can be compared.
    same_id = {"X-Request-ID": "same-id"}
    wrong_password = await client.post(
        "/api/v1/auth/login",
        json={"email": admin.email, "password": "wrong password"},
        headers=same_id,
    )
    unknown_email = await client.post(
        "/api/v1/auth/login",
        json={"email": unique_email(), "password": "wrong password"},
        headers=same_id,
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.headers["www-authenticate"] == "Bearer"


async def test_inactive_user_cannot_log_in_and_token_stops_working(
    client: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    response = await client.patch(
        f"/api/v1/users/{member.user_id}", json={"is_active": False}, headers=admin.headers
    )
    assert response.status_code == 200
    # The member's existing token fails on its very next request.
    me = await client.get("/api/v1/auth/me", headers=member.headers)
    assert me.status_code == 401
    login = await client.post(
        "/api/v1/auth/login", json={"email": member.email, "password": member.password}
    )
    assert login.status_code == 401


async def test_role_change_applies_on_next_request(
    client: httpx.AsyncClient, admin: Account, member: Account
) -> None:
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 403
    await client.patch(
        f"/api/v1/users/{member.user_id}", json={"role": "admin"}, headers=admin.headers
    )
    assert (await client.get("/api/v1/users", headers=member.headers)).status_code == 200


def _token(claims: dict[str, object], key: str = SECRET) -> str:
    """A token with every required claim valid but those given: each bad token below is
    refused for the reason its case names, not for a claim it happens to lack."""
    now = int(time.time())
    valid: dict[str, object] = {"iss": ISSUER, "aud": AUDIENCE, "iat": now - 60, "typ": "access"}
    return jwt.encode({**valid, **claims}, key, algorithm="HS256")


async def test_the_bad_token_helper_makes_good_tokens(
    client: httpx.AsyncClient, admin: Account
) -> None:
    token = _token({"sub": str(admin.user_id), "exp": int(time.time()) + 60})
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(
            lambda a: _token(
                {"sub": str(a.user_id), "exp": int(time.time()) - 10, "typ": "access"}
            ),
            id="expired",
        ),
        pytest.param(
            lambda a: _token(
                {"sub": str(a.user_id), "exp": int(time.time()) + 60, "typ": "access"},
                key="another key that is long enough to sign",
            ),
            id="wrong-key",
        ),
        pytest.param(
            lambda a: a.token[:-4] + ("AAAA" if a.token[-4:] != "AAAA" else "BBBB"),
            id="tampered-signature",
        ),
        pytest.param(
            lambda a: (
                a.token.split(".")[0]
                + "."
                + jwt.utils.base64url_encode(
                    (
                        f'{{"sub":"{uuid.uuid4()}","iat":{int(time.time())},'
                        f'"exp":{int(time.time()) + 60},"iss":"{ISSUER}","aud":"{AUDIENCE}",'
                        '"typ":"access"}'
                    ).encode()
                ).decode()
                + "."
                + a.token.split(".")[2]
            ),
            id="tampered-claims",
        ),
        pytest.param(
            lambda a: _token(
                {"sub": str(uuid.uuid4()), "exp": int(time.time()) + 60, "typ": "access"}
            ),
            id="unknown-user",
        ),
        pytest.param(lambda a: "garbage", id="garbage"),
        pytest.param(lambda a: "agk_not-a-real-key", id="unknown-api-key"),
    ],
)
async def test_bad_tokens_are_401(
    client: httpx.AsyncClient, admin: Account, make_token: object
) -> None:
    token = make_token(admin)  # type: ignore[operator]
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "unauthorized"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer "}],
)
async def test_missing_credentials_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.get("/api/v1/agents", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_token_expiry_follows_setting(pg_url: str, database: Database) -> None:
    app: Litestar = create_app(make_settings(pg_url, access_token_ttl=120), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        account = await signup(client)
        claims = jwt.decode(account.token, SECRET, algorithms=["HS256"], audience="agents-api")
    assert claims["exp"] - claims["iat"] == 120
    assert claims["iss"] == "agents-api"


async def test_passwords_are_stored_hashed(admin: Account, database: Database) -> None:
    async with orm_session(database) as session:
        user = (await session.scalars(select(User).where(User.id == admin.user_id))).one()
    assert admin.password not in user.password_hash
    assert user.password_hash.startswith("$argon2id$")
