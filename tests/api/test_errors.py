"""The error contract: problem documents for every error, limits, and database outages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import get

from agents_api.app import create_app
from agents_core.db.database import Database
from tests.conftest import Account, make_settings, signup

MIB = 1024 * 1024


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == "about:blank"
    assert isinstance(body["title"], str)
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/nothing-here"), 404, "not_found")


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient, admin: Account) -> None:
    assert_problem(
        await client.request("PUT", "/api/v1/users", headers=admin.headers),
        405,
        "method_not_allowed",
    )


async def test_body_over_one_mib_with_length_is_413(
    client: httpx.AsyncClient, admin: Account
) -> None:
    body = b'{"name": "x", "instructions": "' + b"a" * MIB + b'"}'
    response = await client.post(
        "/api/v1/agents",
        content=body,
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert_problem(response, 413, "payload_too_large")


async def test_chunked_body_over_one_mib_is_413_even_where_no_body_is_read(
    client: httpx.AsyncClient, admin: Account
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(5):
            yield b"x" * (MIB // 4)

    # A route that takes no body at all (GET) and one that does.
    for method, path in [("GET", "/api/v1/agents"), ("POST", "/api/v1/agents")]:
        response = await client.request(
            method,
            path,
            content=chunks(),
            headers={**admin.headers, "content-type": "application/json"},
        )
        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "payload_too_large")


async def test_small_chunked_body_is_accepted(client: httpx.AsyncClient, admin: Account) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"name": "Chunked", '
        yield b'"instructions": "streamed"}'

    response = await client.post(
        "/api/v1/agents",
        content=chunks(),
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Chunked"


async def test_malformed_json_is_400(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.post(
        "/api/v1/agents",
        content=b'{"name": ',
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert_problem(response, 400, "validation_error")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "nul\x00name", "instructions": "x"},
        {"name": "ok", "instructions": "bad\x00text"},
        {"name": "ok", "instructions": "x", "tools": ["t\x00"]},
    ],
)
async def test_nul_characters_are_400(
    client: httpx.AsyncClient, admin: Account, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/agents", json=body, headers=admin.headers)
    problem = assert_problem(response, 400, "validation_error")
    assert "NUL" in str(problem["detail"])


@pytest.mark.parametrize(
    "query",
    [
        "offset=99999999999999999999",
        "offset=-1",
        "limit=0",
        "limit=501",
        "limit=abc",
        "q=%00",
        "tool=%00",
        "modality=video",
    ],
)
async def test_bad_query_values_are_400(
    client: httpx.AsyncClient, admin: Account, query: str
) -> None:
    response = await client.get(f"/api/v1/agents?{query}", headers=admin.headers)
    problem = assert_problem(response, 400, "validation_error")
    assert problem["errors"][0]["field"] == query.split("=")[0]  # type: ignore[index]


async def test_huge_version_number_is_400_not_500(
    client: httpx.AsyncClient, admin: Account
) -> None:
    created = await client.post(
        "/api/v1/agents", json={"name": "V", "instructions": "x"}, headers=admin.headers
    )
    agent_id = created.json()["id"]
    for path in (
        f"/api/v1/agents/{agent_id}/versions/1234567890123456789012345",
        f"/api/v1/agents/{agent_id}/versions/0",
    ):
        response = await client.get(path, headers=admin.headers)
        assert_problem(response, 400, "validation_error")
    restore = await client.post(
        f"/api/v1/agents/{agent_id}/versions/1234567890123456789012345/restore",
        headers=admin.headers,
    )
    assert_problem(restore, 400, "validation_error")


async def test_malformed_id_is_not_500(client: httpx.AsyncClient, admin: Account) -> None:
    response = await client.get("/api/v1/agents/not-a-uuid", headers=admin.headers)
    assert response.status_code in {400, 404}
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_unexpected_error_is_500_without_internals(pg_url: str, database: Database) -> None:
    @get("/boom", opt={"public": True})
    async def boom() -> None:
        raise RuntimeError("SELECT secret FROM internals; Traceback (most recent call last)")

    app = create_app(make_settings(pg_url), database=database)
    app.register(boom)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        response = await client.get("/boom")
    problem = assert_problem(response, 500, "internal_error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert set(problem) == {"type", "title", "status", "detail", "code", "request_id"}


class _Proxy:
    """A TCP proxy in front of PostgreSQL that the test can cut and restore (a real outage)."""

    def __init__(self, target_port: int = 5432) -> None:
        self.target_port = target_port
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()
        await self._server.wait_closed()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))


async def test_database_outage_gives_503_and_recovers(pg_url: str) -> None:
    proxy = _Proxy()
    await proxy.start()
    proxied_url = pg_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
    assert proxied_url != pg_url
    database = Database(proxied_url)
    app = create_app(make_settings(proxied_url), database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            account = await signup(client)
            assert (await client.get("/api/v1/agents", headers=account.headers)).status_code == 200

            await proxy.stop()
            for path in ("/api/v1/agents", "/health/ready"):
                response = await client.get(path, headers=account.headers)
                body = assert_problem(response, 503, "database_unavailable")
                assert "Traceback" not in str(body)
            write = await client.post(
                "/api/v1/agents", json={"name": "x", "instructions": "y"}, headers=account.headers
            )
            assert_problem(write, 503, "database_unavailable")
            assert (await client.get("/health")).status_code == 200

            await proxy.start()  # the database is back, on the same address
            for path in ("/health/ready", "/api/v1/agents"):
                response = await client.get(path, headers=account.headers)
                assert response.status_code == 200, response.text
            write = await client.post(
                "/api/v1/agents", json={"name": "x", "instructions": "y"}, headers=account.headers
            )
            assert write.status_code == 201, write.text
    finally:
        await database.close()
        with contextlib.suppress(Exception):
            await proxy.stop()
