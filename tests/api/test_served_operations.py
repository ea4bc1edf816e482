"""The Operations section on real server processes: counters shared through Redis, and the
shutdown deadline on SIGTERM."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.faults.cluster import ServedApp

REDIS_URL = "redis://127.0.0.1:6379/0"


def _signup(base_url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{base_url}/api/v1/auth/signup",
        json={
            "organization_name": f"Served {secrets.token_hex(3)}",
            "email": f"served-{secrets.token_hex(5)}@example.com",
            "password": "correct horse battery",
        },
        headers=headers or {},
        timeout=30,
    )


@pytest.fixture
def two_servers(pg_url: str, tmp_path: Path) -> Iterator[tuple[ServedApp, ServedApp]]:
    settings = {
        "AGENTS_REDIS_URL": REDIS_URL,
        "AGENTS_AUTH_RATE_LIMIT": "3/minute",
        "AGENTS_TRUSTED_PROXIES": "127.0.0.1",
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    first = ServedApp.start(pg_url, tmp_path / "a", **settings)
    try:
        second = ServedApp.start(pg_url, tmp_path / "b", **settings)
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


def test_a_client_that_exhausts_the_limit_on_one_server_is_refused_by_the_other(
    two_servers: tuple[ServedApp, ServedApp],
) -> None:
    first, second = two_servers
    # A client address of this test's own (through the trusted proxy on 127.0.0.1), so that
    # other runs sharing the Redis server count apart.
    client = {"X-Forwarded-For": f"198.18.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    answers = [_signup(first.base_url, client).status_code for _ in range(3)]
    assert answers == [201, 201, 201]
    refused = _signup(second.base_url, client)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    # Another client is still served by both.
    other = {"X-Forwarded-For": f"198.19.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    assert _signup(second.base_url, other).status_code == 201


# -- shutdown ------------------------------------------------------------------------------------


async def _lock_agent(pg_url: str, agent_id: str) -> asyncpg.Connection:
    """A transaction of the test's own holding the agent's row lock."""
    conn = await asyncpg.connect(pg_url)
    await conn.execute("BEGIN")
    await conn.execute("SELECT 1 FROM agents WHERE id = $1 FOR UPDATE", agent_id)
    return conn


async def _wait_for_lock_waiter(pg_url: str) -> None:
    conn = await asyncpg.connect(pg_url)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            waiting = await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if waiting:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the request never waited on the lock")
    finally:
        await conn.close()


def _accepts_connections(base_url: str) -> bool:
    try:
        httpx.get(f"{base_url}/health", timeout=2)
    except httpx.ConnectError:
        return False
    return True


async def _start_update(
    served: ServedApp, pg_url: str
) -> tuple[httpx.AsyncClient, asyncpg.Connection, asyncio.Task[httpx.Response]]:
    account = (await asyncio.to_thread(_signup, served.base_url)).json()
    headers = {"Authorization": f"Bearer {account['access_token']}"}
    client = httpx.AsyncClient(base_url=served.base_url, timeout=60)
    agent = (
        await client.post(
            "/api/v1/agents", json={"name": "Locked", "instructions": "Wait."}, headers=headers
        )
    ).json()
    lock = await _lock_agent(pg_url, agent["id"])
    update = asyncio.create_task(
        client.put(f"/api/v1/agents/{agent['id']}", json={"instructions": "Done."}, headers=headers)
    )
    await _wait_for_lock_waiter(pg_url)
    return client, lock, update


async def test_sigterm_finishes_requests_in_flight_then_exits(pg_url: str, tmp_path: Path) -> None:
    served = ServedApp.start(pg_url, tmp_path, AGENTS_SHUTDOWN_TIMEOUT="60", AGENTS_DB_TIMEOUT="60")
    try:
        client, lock, update = await _start_update(served, pg_url)
        served.process.send_signal(signal.SIGTERM)
        # New connections are refused while the request in flight still waits.
        deadline = time.monotonic() + 20
        while await asyncio.to_thread(_accepts_connections, served.base_url):
            assert time.monotonic() < deadline, "still accepting connections after SIGTERM"
            await asyncio.sleep(0.1)
        assert not update.done()
        assert served.running
        await lock.execute("ROLLBACK")
        await lock.close()
        response = await update
        assert response.status_code == 200, response.text
        assert response.json()["instructions"] == "Done."
        # uvicorn exits by the signal it was sent once it has shut down.
        assert await asyncio.to_thread(served.process.wait, 30) in (0, -signal.SIGTERM)
        await client.aclose()
    finally:
        served.stop()


async def test_sigterm_stops_waiting_at_the_deadline(pg_url: str, tmp_path: Path) -> None:
    served = ServedApp.start(pg_url, tmp_path, AGENTS_SHUTDOWN_TIMEOUT="1", AGENTS_DB_TIMEOUT="60")
    lock = None
    try:
        client, lock, update = await _start_update(served, pg_url)
        served.process.send_signal(signal.SIGTERM)
        # The process exits although the request it was serving still waits on the lock.
        try:
            await asyncio.to_thread(served.process.wait, 30)
        except subprocess.TimeoutExpired:
            pytest.fail("the server outlived its shutdown deadline")
        # Cut off: not carried out.
        try:
            response = await update
        except httpx.HTTPError:
            pass
        else:
            assert response.status_code >= 500, response.text  # uvicorn's 500 for a cancelled app
        await client.aclose()
    finally:
        if lock is not None:
            await lock.execute("ROLLBACK")
            await lock.close()
        served.stop()
