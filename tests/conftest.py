"""Shared fixtures: a real PostgreSQL database for the session, the real app, real clients.

The session creates its own database (``agents_test_<random>``) on the server named by
``AGENTS_TEST_POSTGRES_URL`` (default: postgres on 127.0.0.1:5432) and drops it at the end,
so concurrent runs never collide. Tests isolate themselves by signing up their own
organizations; nothing is truncated between tests.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.pool import NullPool

from agents_api.app import create_app
from agents_api.settings import RateLimit, Settings
from agents_core.db import migrations
from agents_core.db.database import Database, create_engine
from agents_core.service import Scope
from tests.factories import AgentCreateFactory, SignupFactory

ADMIN_URL = os.environ.get(
    "AGENTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SECRET = "test-secret-key-" + "x" * 32


async def create_scratch_database(prefix: str = "agents_test") -> str:
    """Create an empty PostgreSQL database; return its URL."""
    name = f"{prefix}_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_scratch_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_url() -> AsyncIterator[str]:
    url = await create_scratch_database()
    database = Database(url)
    try:
        await migrations.upgrade(database)
    finally:
        await database.close()
    yield url
    await drop_scratch_database(url)


@pytest.fixture(scope="session")
async def database(pg_url: str) -> AsyncIterator[Database]:
    database = Database(pg_url)
    yield database
    await database.close()


TEST_AUTH_RATE_LIMIT = RateLimit(1000, "second")
"""The suite signs up an organization per test, all from one address: limited, but far above
what it sends (the limits themselves are tested with small settings of their own)."""


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": SECRET,
        "migrate_on_start": False,
        "auth_rate_limit": TEST_AUTH_RATE_LIMIT,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def settings(pg_url: str) -> Settings:
    return make_settings(pg_url)


@pytest.fixture(scope="session")
def app(settings: Settings, database: Database) -> Litestar:
    return create_app(settings, database=database)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """The real app in this event loop (Litestar's AsyncTestClient would run it on a thread of
    its own, away from the session's connection pools)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@dataclass
class Account:
    """A signed-up organization and its admin, with ready-made auth headers."""

    token: str
    organization_id: uuid.UUID
    user_id: uuid.UUID
    email: str
    password: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_email(prefix: str = "user") -> str:
    return f"{prefix}-{secrets.token_hex(6)}@example.com"


async def signup(client: httpx.AsyncClient, **overrides: Any) -> Account:
    body = msgspec.to_builtins(SignupFactory.build())
    body.update(overrides)
    response = await client.post("/api/v1/auth/signup", json=body)
    assert response.status_code == 201, response.text
    data = response.json()
    return Account(
        token=data["access_token"],
        organization_id=uuid.UUID(data["organization"]["id"]),
        user_id=uuid.UUID(data["user"]["id"]),
        email=body["email"],
        password=body["password"],
    )


async def add_member(client: httpx.AsyncClient, admin: Account, role: str = "member") -> Account:
    email = unique_email(role)
    password = "member password 1"
    response = await client.post(
        "/api/v1/users",
        json={"email": email, "password": password, "role": role},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    user = response.json()
    login = await client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert login.status_code == 200, login.text
    return Account(
        token=login.json()["access_token"],
        organization_id=admin.organization_id,
        user_id=uuid.UUID(user["id"]),
        email=email,
        password=password,
    )


@pytest.fixture
async def admin(client: httpx.AsyncClient) -> Account:
    return await signup(client)


@pytest.fixture
async def member(client: httpx.AsyncClient, admin: Account) -> Account:
    return await add_member(client, admin)


def agent_body(**overrides: Any) -> dict[str, Any]:
    """A valid ``AgentCreate`` body (from its factory) with ``overrides`` as JSON values."""
    agent = AgentCreateFactory.build()
    body: dict[str, Any] = {"name": agent.name, "instructions": agent.instructions}
    body.update(overrides)
    return body


CreateAgent = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
def create_agent(client: httpx.AsyncClient, admin: Account) -> CreateAgent:
    """Create an agent in ``admin``'s organization (or another account's) and return it."""

    async def create(account: Account | None = None, **overrides: Any) -> dict[str, Any]:
        response = await client.post(
            "/api/v1/agents", json=agent_body(**overrides), headers=(account or admin).headers
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    return create


@asynccontextmanager
async def acting(
    database: Database, organization_id: uuid.UUID, *, transaction: bool = False
) -> AsyncIterator[Scope]:
    """The organization's scope on a connection of ``database`` (in a transaction with
    ``transaction``), acting as no user, as a tool does: what a test makes a core service for,
    e.g. ``AgentService(scope)``."""
    async with database.transaction() if transaction else database.connect() as conn:
        yield Scope(conn, organization_id)


@asynccontextmanager
async def orm_session(database: Database) -> AsyncIterator[AsyncSession]:
    """An ORM session on the database, in a transaction: the tests' independent view of what
    the app stored (the app itself reads and writes through ``Connection`` only)."""
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            yield session
    finally:
        await engine.dispose()


class StatementCount:
    """How many statements a database's connections ran (transaction control not counted)."""

    def __init__(self) -> None:
        self.value = 0


@contextmanager
def counting_statements(database: Database) -> Iterator[StatementCount]:
    """Count the statements every connection of ``database`` runs while the block lasts: a
    test-side wrapper around the connection class (the production one counts nothing)."""
    count = StatementCount()
    base: Any = database._connection_type

    class Counting(base):  # type: ignore[misc, valid-type]
        async def fetch(self, query: Any, params: Any) -> Any:
            count.value += 1
            return await super().fetch(query, params)

        async def fetchrow(self, query: Any, params: Any) -> Any:
            count.value += 1
            return await super().fetchrow(query, params)

        async def execute(self, query: Any, params: Any) -> None:
            count.value += 1
            await super().execute(query, params)

        async def execute_many(self, query: Any, rows: Any) -> None:
            count.value += bool(rows)
            await super().execute_many(query, rows)

        async def lock(self, *args: Any) -> None:
            count.value += database.is_postgres
            await super().lock(*args)

    database._connection_type = Counting
    try:
        yield count
    finally:
        database._connection_type = base
