"""The Operations section of the contract, in process: headers, bodies, throttling, rate limits,
client addresses, CORS and token claims.

The limits are tested with small settings of their own (the suite's default settings are far
above what the suite sends). Each such test builds its own app, whose counters start empty.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import jwt
import pytest

from agents_api.app import create_app
from agents_api.bodies import MAX_DEPTH
from agents_api.settings import RateLimit
from agents_core.db.database import Database
from tests.api.test_errors import assert_problem
from tests.conftest import SECRET, Account, agent_body, make_settings, signup, unique_email


@asynccontextmanager
async def app_client(
    pg_url: str,
    database: Database,
    *,
    address: str = "127.0.0.1",
    **settings: Any,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own, connecting from ``address``."""
    app = create_app(make_settings(pg_url, **settings), database=database)
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


# -- headers ----------------------------------------------------------------------------------


async def test_every_response_says_nosniff(client: httpx.AsyncClient, admin: Account) -> None:
    answers = [
        await client.get("/health"),
        await client.get("/api/v1/agents", headers=admin.headers),
        await client.get("/api/v1/agents"),  # 401
        await client.get("/no/such/route"),  # the router's 404
        await client.request("TRACE", "/api/v1/agents", headers=admin.headers),  # 405
        await client.post("/api/v1/agents", content=b"{", headers=admin.headers),  # 400
        await client.options("/api/v1/agents"),
        await client.get("/schema/openapi.json"),
    ]
    assert [a.headers.get("x-content-type-options") for a in answers] == ["nosniff"] * len(
        answers
    ), [a.status_code for a in answers]


async def test_credentials_are_not_cached(client: httpx.AsyncClient, admin: Account) -> None:
    signed_up = await client.post(
        "/api/v1/auth/signup",
        json={
            "organization_name": "No store",
            "email": unique_email(),
            "password": "correct horse battery",
        },
    )
    logged_in = await client.post(
        "/api/v1/auth/login", json={"email": admin.email, "password": admin.password}
    )
    key = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "member"}, headers=admin.headers
    )
    assert [signed_up.status_code, logged_in.status_code, key.status_code] == [201, 200, 201]
    for answer in (signed_up, logged_in, key):
        assert answer.headers["cache-control"] == "no-store"
    listing = await client.get("/api/v1/agents", headers=admin.headers)
    assert "no-store" not in listing.headers.get("cache-control", "")


# -- bodies -----------------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
async def test_a_body_that_is_not_json_is_415(
    client: httpx.AsyncClient, admin: Account, content_type: str
) -> None:
    response = await client.post(
        "/api/v1/agents",
        content=json.dumps(agent_body()),
        headers={**admin.headers, "Content-Type": content_type},
    )
    body = assert_problem(response, 415, "unsupported_media_type")
    assert "request_id" in body
    listing = await client.get("/api/v1/agents", headers=admin.headers)
    assert listing.json() == []


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=utf-8", "application/merge-patch+json"],
)
async def test_json_and_no_content_type_are_read_as_json(
    client: httpx.AsyncClient, admin: Account, content_type: str | None
) -> None:
    request = client.build_request(
        "POST", "/api/v1/agents", content=json.dumps(agent_body()).encode(), headers=admin.headers
    )
    request.headers.pop("content-type", None)
    if content_type is not None:
        request.headers["content-type"] = content_type
    assert ("content-type" in request.headers) == (content_type is not None)
    response = await client.send(request)
    assert response.status_code == 201, response.text


def nested(depth: int) -> bytes:
    """A body nesting arrays ``depth`` levels deep inside the top-level object (which counts)."""
    inner = depth - 1
    return b'{"name": "Deep", "instructions": "x", "tools": ' + b"[" * inner + b"]" * inner + b"}"


async def test_json_nested_deeper_than_64_levels_is_400(
    client: httpx.AsyncClient, admin: Account
) -> None:
    # At the limit the body is decoded, and refused for its content (tools hold strings).
    at_limit = await client.post("/api/v1/agents", content=nested(MAX_DEPTH), headers=admin.headers)
    body = assert_problem(at_limit, 400, "validation_error")
    assert "nested" not in str(body["detail"])
    deeper = await client.post(
        "/api/v1/agents", content=nested(MAX_DEPTH + 1), headers=admin.headers
    )
    body = assert_problem(deeper, 400, "validation_error")
    assert body["errors"] == [{"field": "body", "message": "nested deeper than 64 levels"}]


@pytest.mark.parametrize("path", ["/api/v1/agents", "/api/v1/agents/import", "/api/v1/auth/login"])
async def test_very_deep_json_is_400_not_500(
    client: httpx.AsyncClient, admin: Account, path: str
) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    for content in (deep, b'{"email": ' + deep + b', "password": "x"}'):
        response = await client.post(path, content=content, headers=admin.headers)
        assert_problem(response, 400, "validation_error")


async def test_every_bad_field_is_reported_at_once(
    client: httpx.AsyncClient, admin: Account, create_agent: Any
) -> None:
    agent = await create_agent()
    response = await client.put(
        f"/api/v1/agents/{agent['id']}",
        json={"name": "", "modality": "bogus", "panels": ["tv"]},
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["name", "modality", "panels[0]"]

    # Members that are each well-formed but break the body's own rules: every one is named.
    response = await client.post(
        "/api/v1/agents",
        json={"name": "  ", "instructions": "\t", "tools": ["a", "a", " "], "extra": 1},
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "validation_error")
    assert {e["field"] for e in body["errors"]} == {"extra"}, "unknown members come first"
    response = await client.post(
        "/api/v1/agents",
        json={"name": "  ", "instructions": "\t", "tools": ["a", "a", " "]},
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "validation_error")
    assert sorted(e["field"] for e in body["errors"]) == [
        "instructions",
        "name",
        "tools[1]",
        "tools[2]",
    ]

    # In an import, the items' paths.
    response = await client.post(
        "/api/v1/agents/import",
        json={"agents": [{"name": "ok", "instructions": "x"}, {"name": 3}, {"instructions": ""}]},
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "validation_error")
    assert sorted(e["field"] for e in body["errors"]) == [
        "agents[1].instructions",
        "agents[1].name",
        "agents[2].instructions",
        "agents[2].name",
    ]


async def test_errors_and_detail_are_bounded_whatever_the_input(
    client: httpx.AsyncClient, admin: Account
) -> None:
    # 10,000 malformed ids: one error each, but at most 100 listed.
    response = await client.post(
        "/api/v1/agents",
        json=agent_body(handoff_targets=[f"not-an-id-{n}" for n in range(10_000)]),
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "validation_error")
    assert len(body["errors"]) == 100
    assert len(str(body["detail"])) <= 1000
    # 10,000 well-formed ids of agents that do not exist: the business rule's answer.
    response = await client.post(
        "/api/v1/agents",
        json=agent_body(handoff_targets=[str(uuid.uuid4()) for _ in range(10_000)]),
        headers=admin.headers,
    )
    body = assert_problem(response, 400, "invalid_handoff_targets")
    assert len(str(body["detail"])) <= 1000
    assert len(body.get("errors") or []) <= 100
    assert len(response.content) < 40_000
    # A huge unknown member name is not echoed in full.
    response = await client.post(
        "/api/v1/agents", json={**agent_body(), "x" * 200_000: 1}, headers=admin.headers
    )
    body = assert_problem(response, 400, "validation_error")
    assert len(response.content) < 5_000


# -- login throttling ---------------------------------------------------------------------------


async def _login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


async def test_failed_logins_throttle_the_email(pg_url: str, database: Database) -> None:
    async with app_client(pg_url, database, login_max_failures=3, login_window=900) as client:
        account = await signup(client)
        for _ in range(3):
            assert (await _login(client, account.email, "wrong password")).status_code == 401
        # Whatever the password, in whatever case the email is written.
        for password in ("wrong password", account.password):
            refused = await _login(client, account.email.upper(), password)
            assert_problem(refused, 429, "too_many_attempts")
            assert 1 <= int(refused.headers["retry-after"]) <= 900
        # Another email is not affected.
        other = await signup(client)
        assert (await _login(client, other.email, other.password)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'agents_rate_limited_total{kind="login_email"} 2.0' in metrics


async def test_an_email_without_account_is_throttled_alike(pg_url: str, database: Database) -> None:
    async with app_client(pg_url, database, login_max_failures=2) as client:
        nobody = unique_email("nobody")
        answers = [(await _login(client, nobody, "guess")).status_code for _ in range(3)]
        assert answers == [401, 401, 429]


async def test_a_successful_login_clears_the_count(pg_url: str, database: Database) -> None:
    async with app_client(pg_url, database, login_max_failures=3) as client:
        account = await signup(client)
        for _ in range(2):
            assert (await _login(client, account.email, "wrong")).status_code == 401
        assert (await _login(client, account.email, account.password)).status_code == 200
        for _ in range(2):
            assert (await _login(client, account.email, "wrong")).status_code == 401
        assert (await _login(client, account.email, account.password)).status_code == 200


async def test_throttling_ends_when_the_oldest_failure_leaves_the_window(
    pg_url: str, database: Database
) -> None:
    async with app_client(pg_url, database, login_max_failures=2, login_window=2) as client:
        account = await signup(client)
        assert (await _login(client, account.email, "wrong")).status_code == 401
        await asyncio.sleep(1.2)
        assert (await _login(client, account.email, "wrong")).status_code == 401
        refused = await _login(client, account.email, account.password)
        assert refused.status_code == 429
        # The first failure leaves the window before the second: then one failure is left.
        deadline = time.monotonic() + 10
        while (answer := await _login(client, account.email, account.password)).status_code == 429:
            assert time.monotonic() < deadline, "still refused long after the window"
            await asyncio.sleep(0.2)
        assert answer.status_code == 200


# -- rate limits per client address -------------------------------------------------------------


def _signup_body() -> dict[str, str]:
    return {
        "organization_name": f"Org {secrets.token_hex(3)}",
        "email": unique_email(),
        "password": "correct horse battery",
    }


async def test_sign_up_and_login_are_limited_per_address(pg_url: str, database: Database) -> None:
    async with app_client(
        pg_url, database, address="192.0.2.10", auth_rate_limit=RateLimit(3, "minute")
    ) as client:
        answers = [await client.post("/api/v1/auth/signup", json=_signup_body()) for _ in range(4)]
        assert [a.status_code for a in answers] == [201, 201, 201, 429]
        refused = assert_problem(answers[3], 429, "rate_limited")
        assert "request_id" in refused
        assert 1 <= int(answers[3].headers["retry-after"]) <= 60
        # A bad body counts like any other request: the limit comes before the body is read.
        assert (await client.post("/api/v1/auth/signup", content=b"{")).status_code == 429
        # Login has a budget of its own.
        email = answers[0].json()["user"]["email"]
        logins = [
            (await _login(client, email, "correct horse battery")).status_code for _ in range(4)
        ]
        assert logins == [200, 200, 200, 429]
        # Other routes are not limited.
        token = answers[0].json()["access_token"]
        me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'agents_rate_limited_total{kind="signup"} 2.0' in metrics
        assert 'agents_rate_limited_total{kind="login"} 1.0' in metrics


async def test_the_limit_can_be_turned_off(pg_url: str, database: Database) -> None:
    async with app_client(pg_url, database, address="192.0.2.11", auth_rate_limit=None) as client:
        statuses = [
            (await _login(client, unique_email("nobody"), "whatever")).status_code
            for _ in range(40)
        ]
        assert set(statuses) == {401}


async def test_forwarded_for_names_the_client_only_behind_a_trusted_proxy(
    pg_url: str, database: Database
) -> None:
    one_per_minute = RateLimit(1, "minute")
    login = {"email": "nobody@example.com", "password": "whatever"}

    async def statuses(client: httpx.AsyncClient, forwarded: list[str]) -> list[int]:
        return [
            (
                await client.post(
                    "/api/v1/auth/login", json=login, headers={"X-Forwarded-For": value}
                )
            ).status_code
            for value in forwarded
        ]

    # Behind a trusted proxy, each forwarded client has its own budget; the first address of
    # the header is the client's (the proxy appends what it saw).
    async with app_client(
        pg_url,
        database,
        address="10.1.2.3",
        auth_rate_limit=one_per_minute,
        trusted_proxies=("10.0.0.0/8",),
    ) as client:
        assert await statuses(
            client, ["198.51.100.1", "198.51.100.2", "198.51.100.1, 10.1.2.3"]
        ) == [401, 401, 429]
    # From an untrusted peer the header is ignored: every request is the peer's.
    async with app_client(
        pg_url,
        database,
        address="192.0.2.99",
        auth_rate_limit=one_per_minute,
        trusted_proxies=("10.0.0.0/8",),
    ) as client:
        assert await statuses(client, ["198.51.100.3", "198.51.100.4"]) == [401, 429]


async def test_an_unreachable_counter_store_refuses_rather_than_admits(
    pg_url: str, database: Database
) -> None:
    async with app_client(
        pg_url, database, redis_url="redis://127.0.0.1:9/0", db_timeout=1.0
    ) as client:
        response = await client.post("/api/v1/auth/signup", json=_signup_body())
        assert_problem(response, 503, "rate_limiter_unavailable")
        assert response.headers["retry-after"] == "1"


# -- CORS ---------------------------------------------------------------------------------------

DASHBOARD = "https://dashboard.example.com"


async def test_cors_preflight_for_a_listed_origin(pg_url: str, database: Database) -> None:
    async with app_client(pg_url, database, cors_origins=(DASHBOARD,)) as client:
        preflight = await client.options(
            "/api/v1/agents",
            headers={
                "Origin": DASHBOARD,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 204
        headers = preflight.headers
        assert headers["access-control-allow-origin"] == DASHBOARD
        assert "access-control-allow-credentials" not in headers
        methods = {m.strip() for m in headers["access-control-allow-methods"].split(",")}
        assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
        allowed = {h.strip().lower() for h in headers["access-control-allow-headers"].split(",")}
        assert allowed == {
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "x-request-id",
        }
        assert headers["x-request-id"]

        # The answer itself names the origin and exposes what a client reads.
        account = await signup(client, organization_name="CORS")
        listing = await client.get(
            "/api/v1/agents", headers={**account.headers, "Origin": DASHBOARD}
        )
        assert listing.headers["access-control-allow-origin"] == DASHBOARD
        exposed = {
            h.strip().lower() for h in listing.headers["access-control-expose-headers"].split(",")
        }
        assert exposed == {
            "etag",
            "location",
            "x-total-count",
            "x-release",
            "x-request-id",
            "retry-after",
        }


async def test_cors_ignores_other_origins_and_is_off_by_default(
    pg_url: str, database: Database, client: httpx.AsyncClient
) -> None:
    preflight_headers = {
        "Origin": "https://evil.example.net",
        "Access-Control-Request-Method": "DELETE",
    }
    async with app_client(pg_url, database, cors_origins=(DASHBOARD,)) as listed_only:
        refused = await listed_only.options("/api/v1/agents", headers=preflight_headers)
        assert "access-control-allow-origin" not in refused.headers
        assert refused.status_code != 401
    # Off by default: not even a listed-looking origin is answered.
    preflight = await client.options(
        "/api/v1/agents", headers={**preflight_headers, "Origin": DASHBOARD}
    )
    assert "access-control-allow-origin" not in preflight.headers


async def test_options_needs_no_credentials_and_lists_the_documented_methods(
    client: httpx.AsyncClient,
) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/v1/agents", "/api/v1/agents/{agent_id}", "/api/v1/auth/login"):
        concrete = path.replace("{agent_id}", str(uuid.uuid4()))
        answer = await client.options(concrete)
        assert answer.status_code == 204, path
        allowed = {m.strip().lower() for m in answer.headers["allow"].split(",")} - {"options"}
        assert allowed == set(document["paths"][path]), path


# -- token claims -------------------------------------------------------------------------------


def _claims(account: Account, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(account.user_id),
        "iat": now,
        "exp": now + 600,
        "iss": "agents-api",
        "aud": "agents-api",
        "typ": "access",
    }
    for name, value in changes.items():
        if value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"sub": None}, id="no-sub"),
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"exp": None}, id="no-exp"),
        pytest.param({"iss": None}, id="no-iss"),
        pytest.param({"aud": None}, id="no-aud"),
        pytest.param({"iss": "someone-else"}, id="other-issuer"),
        pytest.param({"aud": "another-service"}, id="other-audience"),
        pytest.param({"aud": ["agents-api", "another-service"]}, id="shared-audience"),
        pytest.param({"exp": int(time.time()) + 100 * 365 * 86400}, id="a-century"),
        pytest.param(
            {"iat": int(time.time()) - 3000, "exp": int(time.time()) + 3000},
            id="longer-than-the-ttl",
        ),
    ],
)
async def test_a_correctly_signed_token_with_wrong_claims_is_401(
    client: httpx.AsyncClient, admin: Account, changes: dict[str, Any]
) -> None:
    token = jwt.encode(_claims(admin, **changes), SECRET, algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert_problem(response, 401, "unauthorized")


async def test_a_token_with_every_claim_right_is_accepted(
    client: httpx.AsyncClient, admin: Account
) -> None:
    token = jwt.encode(_claims(admin, exp=int(time.time()) + 3600), SECRET, algorithm="HS256")
    response = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    issued = jwt.decode(admin.token, SECRET, algorithms=["HS256"], audience="agents-api")
    assert {"sub", "iat", "exp", "iss", "aud"} <= set(issued)


async def test_the_sdk_reads_the_new_refusals(pg_url: str, database: Database) -> None:
    from agents_client.errors import APIStatusError, RateLimitError, status_error

    async with app_client(pg_url, database, login_max_failures=1) as client:
        email = unique_email("sdk")
        await _login(client, email, "wrong")
        error = status_error(await _login(client, email, "wrong"))
        assert isinstance(error, RateLimitError)
        assert error.code == "too_many_attempts"
        assert error.retry_after is not None
        assert error.retry_after >= 1
        account = await signup(client)
        unsupported = await client.post(
            "/api/v1/agents",
            content=b"name=x",
            headers={**account.headers, "Content-Type": "text/plain"},
        )
        error = status_error(unsupported)
        assert isinstance(error, APIStatusError)
        assert (error.response.status_code, error.code) == (415, "unsupported_media_type")
