"""Fixtures for the SDK tests: the real clients over the real app and database."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from agents_api.app import create_app
from agents_client import AgentsClient, AsyncAgentsClient, SignupRequest, SignupResponse
from tests.conftest import make_settings, unique_email

BASE_URL = "http://testserver"
PASSWORD = "correct horse battery"


def signup_body(**overrides: str) -> SignupRequest:
    values = {
        "organization_name": f"Org {secrets.token_hex(3)}",
        "email": unique_email("sdk"),
        "password": PASSWORD,
    }
    values.update(overrides)
    return SignupRequest(**values)


def asgi_transport(app: Litestar) -> httpx.ASGITransport:
    # Litestar's precise ASGI types do not match httpx's loose ones; the app is an ASGI app.
    return httpx.ASGITransport(app=app)  # type: ignore[arg-type]


def asgi_client(
    app: Litestar, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=transport or asgi_transport(app), base_url=BASE_URL)


@pytest.fixture
async def sdk(app: Litestar) -> AsyncIterator[AsyncAgentsClient]:
    """An async SDK client with no credential yet, over the app in the test event loop."""
    async with asgi_client(app) as http, AsyncAgentsClient(BASE_URL, http_client=http) as client:
        yield client


@pytest.fixture
async def admin_sdk(sdk: AsyncAgentsClient) -> AsyncAgentsClient:
    """``sdk`` after signing up a fresh organization (it now carries the admin's token)."""
    await sdk.auth.signup(signup_body())
    return sdk


@pytest.fixture
async def signed_up(app: Litestar) -> AsyncIterator[tuple[AsyncAgentsClient, SignupResponse]]:
    async with asgi_client(app) as http, AsyncAgentsClient(BASE_URL, http_client=http) as client:
        response = await client.auth.signup(signup_body())
        yield client, response


@pytest.fixture
def sync_app(pg_url: str) -> Iterator[TestClient[Litestar]]:
    """A separate app on Litestar's TestClient: it runs in a thread with its own event loop, so
    it gets its own database pools (made and closed by the app's lifespan in that loop)."""
    with TestClient(app=create_app(make_settings(pg_url))) as http:
        yield http


@pytest.fixture
def sync_sdk(sync_app: TestClient[Litestar]) -> Iterator[AgentsClient]:
    with AgentsClient(str(sync_app.base_url), http_client=sync_app) as client:
        yield client
