"""Retries: idempotent requests survive a transient failure; creates and imports never repeat."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from litestar import Litestar

from agents_client import (
    AgentCreate,
    AgentUpdate,
    APIConnectionError,
    APITimeoutError,
    AsyncAgentsClient,
    ConflictError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from agents_client.sending import backoff_delay
from tests.client.conftest import BASE_URL, asgi_client, asgi_transport, signup_body
from tests.client.faults import AsyncFaults, connect_error, problem, read_timeout


@pytest.fixture
async def faulty(app: Litestar) -> AsyncIterator[tuple[AsyncAgentsClient, AsyncFaults]]:
    """A signed-up admin client whose requests pass through a fault injector."""
    faults = AsyncFaults(asgi_transport(app))
    async with (
        asgi_client(app, transport=faults) as http,
        AsyncAgentsClient(BASE_URL, http_client=http) as client,
    ):
        await client.auth.signup(signup_body())
        faults.seen.clear()
        faults.reached_app.clear()
        yield client, faults


def agent(name: str = "Retry agent") -> AgentCreate:
    return AgentCreate(name=name, instructions="Answer the phone.")


AGENTS = "/api/v1/agents"


async def test_a_get_is_retried_after_a_503(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    created = await client.agents.create(agent())
    faults.seen.clear()
    faults.faults.append(problem(503, **{"Retry-After": "0"}))

    started = time.monotonic()
    fetched = await client.agents.get(created.id)
    assert time.monotonic() - started < 0.5  # Retry-After: 0 was honoured, no backoff
    assert fetched == created
    assert faults.seen == [("GET", f"{AGENTS}/{created.id}")] * 2


async def test_a_post_is_not_retried(faulty: tuple[AsyncAgentsClient, AsyncFaults]) -> None:
    client, faults = faulty
    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    with pytest.raises(ServerError) as caught:
        await client.agents.create(agent())
    assert caught.value.status == 503
    assert faults.seen == [("POST", AGENTS)]
    assert (await client.agents.list()).total == 0


async def test_patch_restore_duplicate_and_import_are_not_retried(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    created = await client.agents.create(agent())
    faults.seen.clear()
    faults.reached_app.clear()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: client.agents.patch(created.id, AgentUpdate(instructions="New.")),
        lambda: client.agents.versions.restore(created.id, 1),
        lambda: client.agents.duplicate(created.id),
        lambda: client.agents.import_agents([], dry_run=True),
        lambda: client.auth.login("someone@example.com", "password"),
    ]
    for call in calls:
        faults.faults.append(problem(503, **{"Retry-After": "0"}))
        with pytest.raises(ServerError):
            await call()
    assert len(faults.seen) == len(calls)
    assert faults.reached_app == []


async def test_put_and_delete_are_retried(faulty: tuple[AsyncAgentsClient, AsyncFaults]) -> None:
    client, faults = faulty
    created = await client.agents.create(agent())
    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    updated = await client.agents.update(
        created.id, AgentUpdate(instructions="Retried."), expected_version=1
    )
    assert updated.current_version == 2

    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    await client.agents.delete(created.id)
    with pytest.raises(NotFoundError):
        await client.agents.get(created.id)
    methods = [method for method, _ in faults.seen]
    assert methods == ["POST", "PUT", "PUT", "DELETE", "DELETE", "GET"]


async def test_429_waits_as_long_as_retry_after_says(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    faults.faults.append(problem(429, **{"Retry-After": "1"}))
    started = time.monotonic()
    page = await client.agents.list()
    assert time.monotonic() - started >= 0.95
    assert page.total == 0
    assert len(faults.seen) == 2


async def test_retries_stop_after_max_retries(app: Litestar) -> None:
    faults = AsyncFaults(asgi_transport(app))
    async with (
        asgi_client(app, transport=faults) as http,
        AsyncAgentsClient(BASE_URL, http_client=http, max_retries=1) as client,
    ):
        faults.faults.extend([problem(503, **{"Retry-After": "0"})] * 3)
        with pytest.raises(ServerError):
            await client.health.live()
        assert len(faults.seen) == 2  # the first attempt and one retry

    faults = AsyncFaults(asgi_transport(app))
    async with (
        asgi_client(app, transport=faults) as http,
        AsyncAgentsClient(BASE_URL, http_client=http, max_retries=0) as client,
    ):
        faults.faults.append(problem(429, **{"Retry-After": "3"}))
        with pytest.raises(RateLimitError) as caught:
            await client.health.live()
        assert caught.value.retry_after == 3.0
        assert len(faults.seen) == 1


async def test_a_readiness_probe_is_not_retried(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    with pytest.raises(ServerError):
        await client.health.ready()
    assert faults.seen == [("GET", "/health/ready")]


async def test_connection_errors(faulty: tuple[AsyncAgentsClient, AsyncFaults]) -> None:
    client, faults = faulty
    faults.faults.append(connect_error)
    assert (await client.agents.list()).total == 0
    assert len(faults.seen) == 2

    faults.seen.clear()
    faults.faults.append(connect_error)
    with pytest.raises(APIConnectionError) as caught:
        await client.agents.create(agent())
    assert caught.value.request is not None
    assert caught.value.request.method == "POST"
    assert len(faults.seen) == 1


async def test_timeouts(faulty: tuple[AsyncAgentsClient, AsyncFaults]) -> None:
    client, faults = faulty
    faults.faults.append(read_timeout)
    with pytest.raises(APITimeoutError):
        await client.agents.create(agent())
    assert (await client.agents.list()).total == 0

    faults.seen.clear()
    faults.faults.append(read_timeout)
    assert (await client.agents.list()).total == 0
    assert len(faults.seen) == 2


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    for attempt, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 8.0)]:
        delays = {backoff_delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(delays) > 1  # jittered


async def test_iterators_send_only_the_requests_they_need(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    for index in range(4):
        await client.agents.create(agent(f"Paged {index}"))
    faults.seen.clear()
    assert len([a async for a in client.agents.iterate(page_size=2)]) == 4
    assert len(faults.seen) == 2  # X-Total-Count says when the last page has been read

    faults.seen.clear()
    events = [e async for e in client.agents.iter_events(limit=2)]
    assert len(events) == 4
    assert len(faults.seen) == 2  # has_more says when the feed is drained
    assert all(path == "/api/v1/agents/events" for _, path in faults.seen)


async def test_a_write_rolled_back_by_a_deadlock_is_sent_again_even_a_create(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    """409 ``concurrent_change`` means the API applied nothing: safe to repeat, even a POST."""
    client, faults = faulty
    faults.faults.append(problem(409, code="concurrent_change", **{"Retry-After": "0"}))
    created = await client.agents.create(agent("Sent twice"))
    assert created.name == "Sent twice"
    assert faults.seen == [("POST", AGENTS)] * 2
    assert len(faults.reached_app) == 1


async def test_other_conflicts_are_not_retried(
    faulty: tuple[AsyncAgentsClient, AsyncFaults],
) -> None:
    client, faults = faulty
    created = await client.agents.create(agent("Taken"))
    faults.seen.clear()
    faults.faults.append(problem(409, code="agent_name_taken"))
    with pytest.raises(ConflictError):
        await client.agents.update(created.id, AgentUpdate(name="Other"))
    assert len(faults.seen) == 1
