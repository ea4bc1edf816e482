"""Operations: request ids, request logs, /metrics, traces (API.md "Operations")."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar import Litestar, get
from prometheus_client.parser import text_string_to_metric_families

from agents_api import logs
from agents_api.app import create_app
from agents_api.metrics import record_rate_limited
from agents_api.settings import Settings, SettingsError
from agents_api.tracing import tracing_requested
from agents_client import AsyncAgentsClient, NotFoundError
from agents_core.db.database import Database
from tests.conftest import Account, make_settings, signup, unique_email

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def observed(pg_url: str, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an app of its own (its metrics count only this test's requests)."""
    app = create_app(make_settings(pg_url, metrics_token="metrics-token-1"), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client


@pytest.fixture
def request_lines() -> Iterator[io.StringIO]:
    """Everything the app logs during the test, as the server's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    handler.addFilter(logs.RequestIdFilter())
    # The test's own HTTP client logs too; only the server's lines are under test.
    handler.addFilter(lambda record: not record.name.startswith(("httpx", "httpcore")))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def parsed(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line]


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(text: str, name: str, **labels: str) -> float | None:
    return metric_samples(text).get((name, tuple(sorted(labels.items()))))


# -- request ids ----------------------------------------------------------------------------------


async def test_every_response_carries_a_request_id_and_every_problem_names_it(
    observed: httpx.AsyncClient,
) -> None:
    admin = await signup(observed)
    created = await observed.post(
        "/api/v1/agents", json={"name": "Ids", "instructions": "x"}, headers=admin.headers
    )
    agent_id = created.json()["id"]
    responses = {
        "ok": await observed.get(f"/api/v1/agents/{agent_id}", headers=admin.headers),
        "not modified": await observed.get(
            f"/api/v1/agents/{agent_id}",
            headers={**admin.headers, "If-None-Match": created.headers["etag"]},
        ),
        "no route": await observed.get("/no/such/route"),
        "no method": await observed.delete("/health"),
        "no credentials": await observed.get("/api/v1/agents"),
        "too large": await observed.post(
            "/api/v1/agents", content=b"x" * (1024 * 1024 + 1), headers=admin.headers
        ),
        "invalid": await observed.post("/api/v1/agents", json={"name": ""}, headers=admin.headers),
        "not found": await observed.get(f"/api/v1/agents/{uuid.uuid4()}", headers=admin.headers),
    }
    assert [r.status_code for r in responses.values()] == [200, 304, 404, 405, 401, 413, 400, 404]
    ids = [r.headers["x-request-id"] for r in responses.values()]
    assert len(set(ids)) == len(ids)  # a new one each time
    for name, response in responses.items():
        if response.status_code >= 400:
            assert response.headers["content-type"].startswith("application/problem+json"), name
            assert response.json()["request_id"] == response.headers["x-request-id"], name


async def test_an_unexpected_error_names_the_request_in_body_and_log(
    pg_url: str, database: Database, request_lines: io.StringIO
) -> None:
    @get("/boom", opt={"public": True})
    async def boom() -> None:
        raise RuntimeError("internal detail")

    app = create_app(make_settings(pg_url), database=database)
    app.register(boom)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/boom", headers={"X-Request-ID": "incident-42"})
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "incident-42"
    assert response.json()["request_id"] == "incident-42"
    lines = parsed(request_lines)
    error = next(line for line in lines if line["logger"] == "agents_api.errors")
    assert error["request_id"] == "incident-42"
    assert "RuntimeError: internal detail" in error["exception"]
    request = next(line for line in lines if line["logger"] == "agents_api.requests")
    assert request["request_id"] == "incident-42"
    assert request["status"] == 500


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("abc", True),
        ("A.b_c-9", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("semi;colon", False),
        ("ünïcode", False),
        ("", False),
    ],
)
async def test_the_clients_request_id_is_kept_only_when_acceptable(
    observed: httpx.AsyncClient, sent: str, kept: bool
) -> None:
    response = await observed.get("/no/such/route", headers=[(b"X-Request-ID", sent.encode())])
    returned = response.headers["x-request-id"]
    assert response.json()["request_id"] == returned
    assert (returned == sent) is kept
    assert 1 <= len(returned) <= 128


async def test_the_sdk_exposes_the_request_id_of_an_error(app: Litestar) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        admin = await signup(http)
        async with AsyncAgentsClient(
            "http://testserver", http_client=http, token=admin.token
        ) as sdk:
            with pytest.raises(NotFoundError) as caught:
                await sdk.agents.get(uuid.uuid4())
    request_id = caught.value.problem.request_id
    assert request_id
    assert caught.value.response.headers["x-request-id"] == request_id


# -- request logs ---------------------------------------------------------------------------------


async def test_one_line_per_request_with_route_template_status_duration_and_id(
    observed: httpx.AsyncClient, request_lines: io.StringIO
) -> None:
    admin = await signup(observed)
    created = await observed.post(
        "/api/v1/agents", json={"name": "Logged", "instructions": "x"}, headers=admin.headers
    )
    agent_id = created.json()["id"]
    request_lines.truncate(0)
    request_lines.seek(0)
    response = await observed.get(f"/api/v1/agents/{agent_id}", headers=admin.headers)
    [line] = [x for x in parsed(request_lines) if x["logger"] == "agents_api.requests"]
    assert line["method"] == "GET"
    assert line["route"] == "/api/v1/agents/{agent_id}"
    assert line["status"] == 200
    assert line["request_id"] == response.headers["x-request-id"]
    assert isinstance(line["duration_ms"], float)
    assert line["duration_ms"] >= 0
    assert line["level"] == "info"
    assert line["message"].startswith("GET /api/v1/agents/{agent_id} 200 ")
    assert agent_id not in request_lines.getvalue()


async def test_no_request_line_without_the_access_log(
    pg_url: str, database: Database, request_lines: io.StringIO
) -> None:
    app = create_app(make_settings(pg_url, access_log=False), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/health")
    assert response.headers["x-request-id"]
    assert [x for x in parsed(request_lines) if x["logger"] == "agents_api.requests"] == []


async def test_no_secret_in_any_log_line(
    observed: httpx.AsyncClient, request_lines: io.StringIO
) -> None:
    password = "a very secret password"
    email = unique_email()
    admin: Account = await signup(observed, email=email, password=password)
    login = await observed.post("/api/v1/auth/login", json={"email": email, "password": password})
    token = login.json()["access_token"]
    wrong = await observed.post(
        "/api/v1/auth/login", json={"email": email, "password": "wrong " + password}
    )
    assert wrong.status_code == 401
    key = await observed.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "member"}, headers=admin.headers
    )
    api_key = key.json()["key"]
    await observed.get("/api/v1/agents", headers={"Authorization": f"Bearer {api_key}"})
    await observed.get(f"/api/v1/agents?q=x&token={token}&api_key={api_key}")
    await observed.get("/api/v1/agents", headers={"Authorization": "Bearer not-a-valid-token"})
    await observed.get("/metrics", headers={"Authorization": "Bearer wrong-metrics-token"})
    await observed.get("/metrics", headers={"Authorization": "Bearer metrics-token-1"})
    text = request_lines.getvalue()
    assert text.count('"logger":"agents_api.requests"') >= 9
    for secret in (
        password,
        token,
        admin.token,
        api_key,
        "not-a-valid-token",
        "wrong-metrics-token",
        "metrics-token-1",
    ):
        assert secret not in text
    assert "Authorization" not in text
    assert "?q=" not in text


def test_log_settings_default_and_refuse_bad_values() -> None:
    base = {"AGENTS_SECRET_KEY": "k" * 40, "AGENTS_DATABASE_URL": "sqlite:///x.db"}
    settings = Settings.from_env(base)
    assert (settings.log_level, settings.log_format, settings.access_log) == ("info", "text", True)
    settings = Settings.from_env({**base, "AGENTS_LOG_LEVEL": "DEBUG", "AGENTS_LOG_FORMAT": "json"})
    assert (settings.log_level, settings.log_format) == ("debug", "json")
    for name, value in [
        ("AGENTS_LOG_LEVEL", "loud"),
        ("AGENTS_LOG_FORMAT", "xml"),
        ("AGENTS_ACCESS_LOG", "maybe"),
        ("AGENTS_METRICS", "maybe"),
        ("OTEL_TRACES_EXPORTER", "jaeger"),
    ]:
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({**base, name: value})


def test_the_server_refuses_a_bad_log_level_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agents_api.serve"],
        env={
            **os.environ,
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_SECRET_KEY": "k" * 40,
            "AGENTS_LOG_LEVEL": "loud",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Configuration error: AGENTS_LOG_LEVEL='loud' is not one of "
        "debug, info, warning, error, critical"
    ]


def test_text_lines_name_the_request() -> None:
    formatter = logs.TextFormatter()
    record = logging.LogRecord("agents_api.requests", logging.INFO, "", 0, "GET / 200", (), None)
    record.request_id = "r-1"
    assert formatter.format(record).endswith(" INFO agents_api.requests: GET / 200 request_id=r-1")
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started", (), None)
    record.request_id = None
    assert formatter.format(record).endswith(" INFO uvicorn.error: Started")


def test_asyncpg_pool_floor_tracebacks_become_one_short_line() -> None:
    floor = logs.PoolFloorFilter()

    def record() -> logging.LogRecord:
        try:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        except ConnectionRefusedError:
            exc_info = sys.exc_info()
        return logging.LogRecord(
            "asyncpg.pool",
            logging.WARNING,
            "",
            0,
            "Failed to restore the pool connection floor; retrying",
            (),
            exc_info,
        )

    first = record()
    assert floor.filter(first)
    assert first.exc_info is None
    assert first.getMessage() == (
        "database unreachable: the connection pool keeps retrying (ConnectionRefusedError: "
        "[Errno 111] Connect call failed ('127.0.0.1', 5432))"
    )
    assert not floor.filter(record())  # the retries of the same outage
    other = logging.LogRecord(
        "asyncpg.pool", logging.WARNING, "", 0, "Pool.close() is taking long", (), None
    )
    assert floor.filter(other)


# -- metrics --------------------------------------------------------------------------------------


async def test_metrics_count_requests_by_route_template_method_and_status(
    observed: httpx.AsyncClient,
) -> None:
    token = {"Authorization": "Bearer metrics-token-1"}
    admin = await signup(observed)
    created = await observed.post(
        "/api/v1/agents", json={"name": "Counted", "instructions": "x"}, headers=admin.headers
    )
    agent_id = created.json()["id"]
    for _ in range(3):
        await observed.get(f"/api/v1/agents/{agent_id}", headers=admin.headers)
    await observed.get("/no/such/route")
    response = await observed.get("/metrics", headers=token)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    route = "/api/v1/agents/{agent_id}"
    labels = {"route": route, "method": "GET", "status": "200"}
    assert sample(text, "agents_http_requests_total", **labels) == 3
    assert sample(text, "agents_http_request_duration_seconds_count", **labels) == 3
    assert sample(text, "agents_http_request_duration_seconds_bucket", le="+Inf", **labels) == 3
    assert (
        sample(
            text, "agents_http_requests_total", route="/api/v1/agents", method="POST", status="201"
        )
        == 1
    )
    unmatched = {"route": "<unmatched>", "method": "GET", "status": "404"}
    assert sample(text, "agents_http_requests_total", **unmatched) == 1
    assert agent_id not in text  # templates, never raw paths
    for name in ("agents_db_pool_connections", "agents_db_pool_in_use", "agents_db_pool_waiting"):
        assert sample(text, name) is not None
    # The scrape itself is counted by the next one.
    again = await observed.get("/metrics", headers=token)
    assert (
        sample(
            again.text, "agents_http_requests_total", route="/metrics", method="GET", status="200"
        )
        == 1
    )


async def test_metrics_show_the_pool_in_use(pg_url: str, database: Database) -> None:
    app = create_app(make_settings(pg_url), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        await client.get("/health/ready")  # the pool exists
        idle = await client.get("/metrics")
        async with database.transaction(), database.transaction():
            busy = await client.get("/metrics")
    assert (
        sample(busy.text, "agents_db_pool_in_use") == sample(idle.text, "agents_db_pool_in_use") + 2
    )
    assert sample(busy.text, "agents_db_pool_connections") >= 2  # type: ignore[operator]


async def test_pool_status_counts_requests_waiting_for_a_connection(pg_url: str) -> None:
    database = Database(pg_url, pool_size=1)
    try:
        async with database.transaction():
            assert database.pool_status().in_use == 1
            assert database.pool_status().waiting == 0

            async def second() -> None:
                async with database.transaction():
                    pass

            task = asyncio.create_task(second())
            for _ in range(1000):
                if database.pool_status().waiting == 1:
                    break
                await asyncio.sleep(0)
            status = database.pool_status()
            assert (status.size, status.in_use, status.waiting) == (1, 1, 1)
        await task
        status = database.pool_status()
        assert (status.in_use, status.waiting) == (0, 0)
    finally:
        await database.close()


async def test_rate_limit_refusals_are_counted_by_kind(pg_url: str, database: Database) -> None:
    app = create_app(make_settings(pg_url), database=database)
    scope: Any = {"litestar_app": app}
    record_rate_limited(scope, "login")
    record_rate_limited(scope, "login")
    record_rate_limited(scope, "signup")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        text = (await client.get("/metrics")).text
    assert sample(text, "agents_rate_limited_total", kind="login") == 2
    assert sample(text, "agents_rate_limited_total", kind="signup") == 1
    # Without metrics, recording is a no-op rather than an error.
    record_rate_limited(
        {"litestar_app": create_app(make_settings(pg_url, metrics=False), database=database)},
        "login",
    )  # type: ignore[arg-type]


async def test_metrics_token_is_required_when_set(observed: httpx.AsyncClient) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "metrics-token-1"}):
        refused = await observed.get("/metrics", headers=headers)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == "Bearer"
        assert refused.json()["request_id"] == refused.headers["x-request-id"]
        assert "agents_http" not in refused.text
    accepted = await observed.get("/metrics", headers={"Authorization": "bearer metrics-token-1"})
    assert accepted.status_code == 200


async def test_metrics_are_off_the_openapi_document_and_can_be_turned_off(
    pg_url: str, database: Database, observed: httpx.AsyncClient
) -> None:
    document = (await observed.get("/schema/openapi.json")).json()
    assert "/metrics" not in document["paths"]
    assert "request_id" in document["components"]["schemas"]["ProblemDetails"]["properties"]
    app = create_app(make_settings(pg_url, metrics=False), database=database)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/metrics")
    assert response.status_code == 404
    assert response.headers["x-request-id"]


# -- traces ---------------------------------------------------------------------------------------


def test_tracing_follows_the_standard_variables() -> None:
    assert not tracing_requested({})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "otlp"})
    assert tracing_requested({"OTEL_TRACES_EXPORTER": "console"})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert tracing_requested({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "none"})
    assert not tracing_requested({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"})
    assert not tracing_requested({"OTEL_SERVICE_NAME": "agents"})


TRACED_REQUEST = """
import asyncio, json, sys

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from agents_api.app import create_app
from agents_core.db import migrations
from agents_core.db.database import Database
from tests.conftest import make_settings

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)


async def main() -> None:
    database = Database(sys.argv[1])
    if not database.is_postgres:
        await migrations.upgrade(database)
    app = create_app(make_settings(sys.argv[1], tracing=True), database=database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        signup = await client.post(
            "/api/v1/auth/signup",
            json={"organization_name": "Traced", "email": sys.argv[2], "password": "long enough"},
        )
        headers = {"Authorization": "Bearer " + signup.json()["access_token"]}
        created = await client.post(
            "/api/v1/agents", json={"name": "Traced", "instructions": "x"}, headers=headers
        )
        exporter.clear()
        response = await client.get("/api/v1/agents/" + created.json()["id"], headers=headers)
        assert response.status_code == 200, response.text
    await database.close()
    spans = [
        {
            "name": span.name,
            "id": span.context.span_id,
            "trace": span.context.trace_id,
            "parent": span.parent.span_id if span.parent else None,
            "kind": span.kind.name,
            "attributes": {k: str(v) for k, v in (span.attributes or {}).items()},
        }
        for span in exporter.get_finished_spans()
    ]
    print(json.dumps(spans))


asyncio.run(main())
"""


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_a_request_span_holds_its_database_statements(
    dialect: str, pg_url: str, tmp_path: Path
) -> None:
    url = pg_url if dialect == "postgresql" else f"sqlite:///{tmp_path}/traced.db"
    result = subprocess.run(
        [sys.executable, "-c", TRACED_REQUEST, url, unique_email("traced")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    spans = json.loads(result.stdout.splitlines()[-1])
    [server] = [s for s in spans if s["kind"] == "SERVER"]
    assert server["name"] == "GET /api/v1/agents/{agent_id}"
    assert server["attributes"]["http.route"] == "/api/v1/agents/{agent_id}"
    by_id = {s["id"]: s for s in spans}

    def ancestors(span: dict[str, Any]) -> list[int]:
        chain = []
        while span["parent"] in by_id:
            chain.append(span["parent"])
            span = by_id[span["parent"]]
        return chain

    statements = [
        s for s in spans if "db.statement" in s["attributes"] or "db.query.text" in s["attributes"]
    ]
    # Authentication reads the user, then the handler reads the agent.
    assert len(statements) >= 2, spans
    for statement in statements:
        assert statement["trace"] == server["trace"]
        assert server["id"] in ancestors(statement)
    assert all(s["trace"] == server["trace"] for s in spans)


def test_nothing_of_opentelemetry_is_loaded_when_traces_are_off(pg_url: str) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        import httpx
        from agents_api.app import create_app
        from agents_api.settings import Settings

        settings = Settings.from_env()
        assert not settings.tracing
        app = create_app(settings)

        async def main() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                assert (await client.get("/health/ready")).status_code == 200
            await app.state.database.close()

        asyncio.run(main())
        print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
        """
    )
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        AGENTS_DATABASE_URL=pg_url, AGENTS_SECRET_KEY="k" * 40, AGENTS_MIGRATE_ON_START="false"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# -- the server process ---------------------------------------------------------------------------


def test_the_server_writes_json_lines_without_uvicorns_access_log(tmp_path: Path) -> None:
    """A real ``python -m agents_api.serve`` on SQLite (it migrates at start): every line of
    its output is a JSON object, one per request with its route template and id, alembic's
    start-up chatter quieted, nothing secret."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("OTEL_")},
        "AGENTS_VAR_DIR": str(tmp_path),
        "AGENTS_SECRET_KEY": "k" * 40,
        "AGENTS_LOG_FORMAT": "json",
        "AGENTS_METRICS_TOKEN": "scrape-secret",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    password = "server password 1"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        signup = httpx.post(
            f"{base}/api/v1/auth/signup",
            json={"organization_name": "Json", "email": unique_email(), "password": password},
            headers={"X-Request-ID": "signup-1"},
            timeout=30,
        )
        token = signup.json()["access_token"]
        listed = httpx.get(
            f"{base}/api/v1/agents?q=a&token={token}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        scrape = httpx.get(
            f"{base}/metrics", headers={"Authorization": "Bearer scrape-secret"}, timeout=10
        )
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    assert (signup.status_code, listed.status_code, scrape.status_code) == (201, 200, 200)
    text = output.decode()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    requests = [line for line in lines if line["logger"] == "agents_api.requests"]
    assert [(r["method"], r["route"], r["status"]) for r in requests][-3:] == [
        ("POST", "/api/v1/auth/signup", 201),
        ("GET", "/api/v1/agents", 200),
        ("GET", "/metrics", 200),
    ]
    assert requests[-3]["request_id"] == "signup-1"
    assert requests[-2]["request_id"] == listed.headers["x-request-id"]
    assert not [line for line in lines if line["logger"].startswith("uvicorn.access")]
    assert any(line["message"].startswith("Running upgrade") for line in lines)
    assert not [line for line in lines if line["logger"] == "alembic.runtime.plugins"]
    assert not [line for line in lines if line["message"].startswith("Context impl")]
    for secret in (password, token, "scrape-secret"):
        assert secret not in text
