"""The database stalls, locks and bursts that the API must ride out (API.md, Operations):

- "No request waits on the database longer than ``AGENTS_DB_TIMEOUT`` seconds — for a pooled
  connection, a lock or a statement: it answers 503 ``database_unavailable`` with
  ``Retry-After``. A lock held on one agent delays only requests that need that agent."
- "``GET /health/ready`` → 200 when the database answers, 503 otherwise, within 2 s either way."

The app runs as a real process on a cluster of the test's own (see ``cluster.py``). The time
limits asserted here are behaviour the contract promises (an answer within a bound, not a speed),
each measured from sending a request to its whole answer: a request stalled by the database has
``AGENTS_DB_TIMEOUT`` plus a second of allowance, ``/health/ready`` the contract's own 2 s, and a
request that needs no locked row 1 s.
"""

from __future__ import annotations

import asyncio
import email.utils
import secrets
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest

from tests.conftest import Account, add_member, agent_body, signup, unique_email
from tests.faults.cluster import PostgresCluster, ServedApp
from tests.faults.conftest import DB_TIMEOUT, POOL_SIZE

DB_BOUND = DB_TIMEOUT + 1
"""Seconds within which a request stalled by the database must have its 503."""

READY_BOUND = 2.0
"""Seconds within which ``/health/ready`` answers, either way."""

UNBLOCKED_BOUND = 1.0
"""Seconds within which a request that does not need a locked row answers."""

RECOVERY_WINDOW = 10.0
"""Seconds the app has, once the database answers again, to serve every route normally."""


@dataclass
class Answer:
    """What one request got: its status (``None``: no answer before the client gave up)."""

    name: str
    status: int | None
    elapsed: float
    code: str | None = None
    retry_after: str | None = None
    content_type: str = ""
    error: str | None = None

    def __str__(self) -> str:
        got = f"no answer ({self.error})" if self.status is None else str(self.status)
        if self.code:
            got += f" {self.code}"
        return f"{self.name}: {got} after {self.elapsed:.2f} s"


@dataclass
class Call:
    """One request, ready to send."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None


async def send(client: httpx.AsyncClient, name: str, call: Call, *, give_up_after: float) -> Answer:
    """Send ``call``; time it from sending to the whole answer."""
    started = time.monotonic()
    try:
        response = await client.request(
            call.method,
            call.path,
            headers=call.headers,
            json=call.body,
            timeout=give_up_after,
        )
    except httpx.HTTPError as exc:
        return Answer(name, None, time.monotonic() - started, error=type(exc).__name__)
    elapsed = time.monotonic() - started
    code = None
    if response.headers.get("content-type", "").startswith("application/problem+json"):
        code = response.json().get("code")
    return Answer(
        name,
        response.status_code,
        elapsed,
        code=code,
        retry_after=response.headers.get("retry-after"),
        content_type=response.headers.get("content-type", ""),
    )


def valid_retry_after(value: str | None) -> bool:
    """``Retry-After`` as RFC 9110 allows it: delay-seconds or an HTTP date."""
    if value is None:
        return False
    if value.isdigit():
        return True
    try:
        email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return False
    return True


def unavailable_within(answer: Answer, bound: float) -> str | None:
    """Why ``answer`` is not a 503 ``database_unavailable`` with ``Retry-After`` within
    ``bound`` seconds, or ``None`` when it is."""
    if (
        answer.status == 503
        and answer.content_type.startswith("application/problem+json")
        and answer.code == "database_unavailable"
        and valid_retry_after(answer.retry_after)
        and answer.elapsed <= bound
    ):
        return None
    want = f"want 503 database_unavailable with Retry-After within {bound} s"
    if answer.status is None:
        return f"{answer} ({want})"
    got = f"Retry-After={answer.retry_after!r}, Content-Type={answer.content_type!r}"
    return f"{answer} ({want}; {got})"


READY = Call("GET", "/health/ready", {})
LIVE = Call("GET", "/health", {})


def failures(reasons: Iterable[str | None]) -> list[str]:
    return [reason for reason in reasons if reason is not None]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def add_agent(client: httpx.AsyncClient, admin: Account, **fields: Any) -> str:
    response = await client.post("/api/v1/agents", json=agent_body(**fields), headers=admin.headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def add_api_key(client: httpx.AsyncClient, admin: Account) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": f"key {secrets.token_hex(3)}", "role": "admin"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    key: dict[str, Any] = response.json()
    return key


# -- (a) the whole cluster frozen ---------------------------------------------------------------


@dataclass
class RouteCase:
    """A route that needs the database, the status it answers when the database does, and how
    to call it: ``call(attempt)`` gives a fresh request (new names, or another target for a
    delete) for the frozen attempt (0) and for the attempts after the thaw (1)."""

    name: str
    expected: int
    call: Callable[[int], Call]


async def database_routes(client: httpx.AsyncClient) -> list[RouteCase]:
    """One case for every kind of route that reads or writes the database, with the data each
    needs created through the API."""
    admin = await signup(client)
    member = await add_member(client, admin)
    agent = await add_agent(client, admin)
    edited = await client.put(
        f"/api/v1/agents/{agent}", json={"instructions": "Version two."}, headers=admin.headers
    )
    assert edited.status_code == 200, edited.text
    doomed_agents = [await add_agent(client, admin) for _ in range(2)]
    doomed_keys = [(await add_api_key(client, admin))["id"] for _ in range(2)]
    api_key = (await add_api_key(client, admin))["key"]
    admin_headers = admin.headers

    def fixed(method: str, path: str) -> Callable[[int], Call]:
        return lambda _: Call(method, path, admin_headers)

    def fresh(method: str, path: str, body: Callable[[], Any]) -> Callable[[int], Call]:
        return lambda _: Call(method, path, admin_headers, body())

    def one_each(method: str, path: str, targets: list[str]) -> Callable[[int], Call]:
        return lambda attempt: Call(method, path.format(targets[attempt]), admin_headers)

    return [
        RouteCase(
            "POST /auth/signup",
            201,
            lambda _: Call(
                "POST",
                "/api/v1/auth/signup",
                {},
                {
                    "organization_name": f"Org {secrets.token_hex(3)}",
                    "email": unique_email("signup"),
                    "password": "correct horse battery",
                },
            ),
        ),
        RouteCase(
            "POST /auth/login",
            200,
            lambda _: Call(
                "POST",
                "/api/v1/auth/login",
                {},
                {"email": member.email, "password": member.password},
            ),
        ),
        RouteCase("GET /auth/me (user token)", 200, fixed("GET", "/api/v1/auth/me")),
        RouteCase(
            "GET /auth/me (API key)",
            200,
            lambda _: Call("GET", "/api/v1/auth/me", bearer(api_key)),
        ),
        RouteCase("GET /users", 200, fixed("GET", "/api/v1/users")),
        RouteCase(
            "POST /users",
            201,
            fresh(
                "POST",
                "/api/v1/users",
                lambda: {
                    "email": unique_email("member"),
                    "password": "member password 1",
                    "role": "member",
                },
            ),
        ),
        RouteCase(
            "PATCH /users/{id}",
            200,
            fresh(
                "PATCH",
                f"/api/v1/users/{member.user_id}",
                lambda: {"full_name": f"Member {secrets.token_hex(3)}"},
            ),
        ),
        RouteCase("GET /api-keys", 200, fixed("GET", "/api/v1/api-keys")),
        RouteCase(
            "POST /api-keys",
            201,
            fresh(
                "POST",
                "/api/v1/api-keys",
                lambda: {"name": f"key {secrets.token_hex(3)}", "role": "member"},
            ),
        ),
        RouteCase(
            "DELETE /api-keys/{id}", 204, one_each("DELETE", "/api/v1/api-keys/{}", doomed_keys)
        ),
        RouteCase("GET /agents", 200, fixed("GET", "/api/v1/agents")),
        RouteCase("POST /agents", 201, fresh("POST", "/api/v1/agents", agent_body)),
        RouteCase("GET /agents/{id}", 200, fixed("GET", f"/api/v1/agents/{agent}")),
        RouteCase(
            "PUT /agents/{id}",
            200,
            fresh(
                "PUT",
                f"/api/v1/agents/{agent}",
                lambda: {"instructions": f"Answer in {secrets.token_hex(3)} words."},
            ),
        ),
        RouteCase(
            "PATCH /agents/{id}",
            200,
            fresh(
                "PATCH",
                f"/api/v1/agents/{agent}",
                lambda: {"voice": f"voice-{secrets.token_hex(3)}"},
            ),
        ),
        RouteCase(
            "DELETE /agents/{id}", 204, one_each("DELETE", "/api/v1/agents/{}", doomed_agents)
        ),
        RouteCase(
            "GET /agents/{id}/versions", 200, fixed("GET", f"/api/v1/agents/{agent}/versions")
        ),
        RouteCase(
            "GET /agents/{id}/versions/1", 200, fixed("GET", f"/api/v1/agents/{agent}/versions/1")
        ),
        RouteCase(
            "POST /agents/{id}/versions/1/restore",
            200,
            fixed("POST", f"/api/v1/agents/{agent}/versions/1/restore"),
        ),
        RouteCase(
            "POST /agents/{id}/duplicate", 201, fixed("POST", f"/api/v1/agents/{agent}/duplicate")
        ),
        RouteCase("GET /agents/export", 200, fixed("GET", "/api/v1/agents/export")),
        RouteCase(
            "POST /agents/import",
            200,
            fresh(
                "POST",
                "/api/v1/agents/import",
                lambda: {"agents": [agent_body()]},
            ),
        ),
        RouteCase("GET /agents/events", 200, fixed("GET", "/api/v1/agents/events")),
    ]


async def until_served(client: httpx.AsyncClient, case: RouteCase, deadline: float) -> Answer:
    """Call the route until it answers its normal status, or the deadline passes."""
    while True:
        answer = await send(client, case.name, case.call(1), give_up_after=5)
        if answer.status == case.expected or time.monotonic() >= deadline:
            return answer
        await asyncio.sleep(0.2)


async def test_a_frozen_cluster_gives_503s_in_time_and_the_app_recovers_by_itself(
    api: httpx.AsyncClient, served_app: ServedApp, postgres_cluster: PostgresCluster
) -> None:
    cases = await database_routes(api)

    with postgres_cluster.frozen():
        answers = await asyncio.gather(
            send(api, "GET /health/ready", READY, give_up_after=DB_BOUND + 1),
            send(api, "GET /health", LIVE, give_up_after=DB_BOUND + 1),
            *(send(api, case.name, case.call(0), give_up_after=DB_BOUND + 1) for case in cases),
        )
    ready, live, *routes = answers

    problems = failures(unavailable_within(answer, DB_BOUND) for answer in routes)
    if not (
        ready.status == 503
        and ready.code == "database_unavailable"
        and ready.elapsed <= READY_BOUND
    ):
        problems.append(f"{ready} (want 503 database_unavailable within {READY_BOUND} s)")
    if live.status != 200:
        problems.append(f"{live} (want 200: the process is up)")
    problems = [f"frozen: {problem}" for problem in problems]

    # Thawed: the same server (no restart) serves every route again, by itself.
    deadline = time.monotonic() + RECOVERY_WINDOW
    ready_again = await send(api, "GET /health/ready", READY, give_up_after=5)
    while ready_again.status != 200 and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        ready_again = await send(api, "GET /health/ready", READY, give_up_after=5)
    recovered = await asyncio.gather(*(until_served(api, case, deadline) for case in cases))
    problems += [
        f"thawed: {answer} (want {case.expected} within {RECOVERY_WINDOW} s of the thaw)"
        for case, answer in zip(cases, recovered, strict=True)
        if answer.status != case.expected
    ]
    if ready_again.status != 200:
        problems.append(f"thawed: {ready_again} (want 200 within {RECOVERY_WINDOW} s of the thaw)")
    # The process started before the freeze served all of it: nothing restarted it.
    if not served_app.running:
        problems.append(f"the server exited:\n{served_app.output()}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


# -- (b) one agent's row locked from another connection -----------------------------------------


async def test_b_a_locked_agent_delays_only_the_requests_that_need_it(
    api: httpx.AsyncClient, postgres_cluster: PostgresCluster
) -> None:
    admin = await signup(api)
    locked, *others = [await add_agent(api, admin) for _ in range(3)]
    writers = POOL_SIZE + 2  # more than the pool holds: waiting writers must not starve readers

    holder = await asyncpg.connect(postgres_cluster.url)
    try:
        lock = holder.transaction()
        await lock.start()
        row = await holder.fetchrow(
            "SELECT id FROM agents WHERE id = $1 FOR UPDATE", uuid.UUID(locked)
        )
        assert row is not None

        def put(number: int) -> Call:
            return Call(
                "PUT",
                f"/api/v1/agents/{locked}",
                admin.headers,
                {"instructions": f"Locked edit {number}."},
            )

        puts = [
            asyncio.create_task(
                send(api, f"PUT locked agent #{n}", put(n), give_up_after=DB_BOUND + 1)
            )
            for n in range(writers)
        ]
        await asyncio.sleep(0.5)  # the writers are on their way to the lock (or at it)
        reads = await asyncio.gather(
            *(
                send(
                    api,
                    f"GET other agent {agent}",
                    Call("GET", f"/api/v1/agents/{agent}", admin.headers),
                    give_up_after=UNBLOCKED_BOUND + 1,
                )
                for agent in others
            ),
            send(
                api,
                "GET /users",
                Call("GET", "/api/v1/users", admin.headers),
                give_up_after=UNBLOCKED_BOUND + 1,
            ),
            send(api, "GET /health/ready", READY, give_up_after=UNBLOCKED_BOUND + 1),
        )
        writes = await asyncio.gather(*puts)
    finally:
        await holder.close()  # ends the transaction: the lock goes

    problems = [
        f"locked: {answer} (want 200 within {UNBLOCKED_BOUND} s)"
        for answer in reads
        if not (answer.status == 200 and answer.elapsed <= UNBLOCKED_BOUND)
    ]
    problems += [
        f"locked: {problem}"
        for problem in failures(unavailable_within(answer, DB_BOUND) for answer in writes)
    ]
    after = await send(
        api,
        "PUT locked agent, lock released",
        Call("PUT", f"/api/v1/agents/{locked}", admin.headers, {"instructions": "Free again."}),
        give_up_after=10,
    )
    if after.status != 200:
        problems.append(f"released: {after} (want 200)")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    current = await api.get(f"/api/v1/agents/{locked}", headers=admin.headers)
    assert current.json()["instructions"] == "Free again."


# -- (c) a burst of wrong-password logins ----------------------------------------------------


async def test_c_a_burst_of_wrong_logins_gives_no_500_and_admins_are_served(
    api: httpx.AsyncClient,
) -> None:
    admin = await signup(api)
    wrong = Call(
        "POST", "/api/v1/auth/login", {}, {"email": admin.email, "password": "not it at all"}
    )

    logins = [
        asyncio.create_task(send(api, f"login #{n}", wrong, give_up_after=120)) for n in range(200)
    ]
    await asyncio.sleep(0.1)  # the burst is under way before the admin asks
    users = await send(
        api, "GET /users", Call("GET", "/api/v1/users", admin.headers), give_up_after=120
    )
    answers = await asyncio.gather(*logins)

    statuses = Counter(answer.status for answer in answers)
    problems = [
        f"{answer} (want 401, or 429/503 with Retry-After)"
        for answer in answers
        if answer.status not in (401, 429, 503)
        or (answer.status in (429, 503) and not valid_retry_after(answer.retry_after))
    ]
    if users.status != 200:
        problems.insert(0, f"{users} (want 200 during the burst)")
    if problems:
        shown = "\n".join(problems[:20])
        pytest.fail(f"login statuses {dict(statuses)}:\n{shown}", pytrace=False)
