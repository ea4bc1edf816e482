"""The OpenAPI document: every route has a tag, a summary and its error responses documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from litestar import Controller, Litestar, get, post
from litestar.openapi import OpenAPIConfig
from litestar.params import FromPath

from agents_api import __version__
from agents_api.openapi import operation_id_for
from agents_api.security import requires_admin

PUBLIC_PATHS = {"/health", "/health/ready", "/api/v1/auth/signup", "/api/v1/auth/login"}


def _admin_operations(app: Litestar) -> set[tuple[str, str]]:
    admin: set[tuple[str, str]] = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            guards = [g for layer in handler.ownership_layers for g in (layer.guards or [])]
            if requires_admin in guards:
                for method in handler.http_methods:
                    admin.add((route.path, method.lower()))
    return admin


async def test_openapi_documents_every_route(client: httpx.AsyncClient, app: Litestar) -> None:
    response = await client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    assert document["openapi"].startswith("3.1")
    admin_operations = _admin_operations(app)
    assert admin_operations, "the admin guard is found on routes"
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            checked += 1
            where = f"{method.upper()} {path}"
            assert operation.get("tags"), where
            assert operation.get("summary"), where
            codes = set(operation["responses"])
            if path not in PUBLIC_PATHS:
                assert "401" in codes, where
                assert operation.get("security") != [], where
            else:
                assert not operation.get("security"), where
            if (path.replace("{", "").replace("}", ""), method) in {
                (p.replace("{", "").replace("}", "").replace(":uuid", "").replace(":int", ""), m)
                for p, m in admin_operations
            }:
                assert "403" in codes, where
            if "{" in path:
                assert "404" in codes, where
            takes_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
            if "requestBody" in operation or takes_query:
                assert "400" in codes, where
            for code in codes - {"200", "201", "204", "304"}:
                content = operation["responses"][code].get("content", {})
                assert "application/problem+json" in content, (where, code)
    assert checked >= 20


async def test_docs_ui_is_served(client: httpx.AsyncClient) -> None:
    response = await client.get("/schema")
    assert response.status_code == 200
    assert "text/html" in response.headers["content-type"]


def test_the_document_needs_no_development_dependencies(tmp_path: Path) -> None:
    """polyfactory (and faker under it) is a test dependency, absent from an installed server.

    Litestar uses it to make examples when a response spec asks for them; the problem specs do
    not, so the document is served without it (it was a 500) and never loads faker (~50 MiB in
    the worker that first serves the document).
    """
    code = (
        "import sys, asyncio, httpx\n"
        "sys.modules['polyfactory'] = sys.modules['faker'] = None  # as if not installed\n"
        "from agents_api.app import create_app\n"
        "async def main():\n"
        "    transport = httpx.ASGITransport(app=create_app())\n"
        "    async with httpx.AsyncClient(transport=transport, base_url='http://t') as c:\n"
        "        r = await c.get('/schema/openapi.json')\n"
        "    assert r.status_code == 200, r.text\n"
        "    assert 'ProblemDetails' in r.json()['components']['schemas']\n"
        "asyncio.run(main())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            **os.environ,
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_SECRET_KEY": "k" * 40,
            "AGENTS_MIGRATE_ON_START": "false",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


# -- operation ids -------------------------------------------------------------------------------

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
LOWER_CAMEL_CASE = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*$")


def operation_ids(document: dict[str, Any]) -> dict[str, str]:
    """``operationId`` → ``METHOD path``, checking each id on the way."""
    found: dict[str, str] = {}
    for path, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method not in item:
                continue
            where = f"{method.upper()} {path}"
            operation_id = item[method].get("operationId")
            assert operation_id, f"{where} has no operationId"
            assert LOWER_CAMEL_CASE.match(operation_id), (where, operation_id)
            # Nothing of the path in it: not the prefix, not an id parameter (Litestar's default
            # was ``ApiV1AgentsAgentIdGetAgent``).
            lowered = operation_id.lower()
            assert not lowered.startswith("api"), (where, operation_id)
            assert "v1" not in lowered, (where, operation_id)
            for parameter in re.findall(r"{(\w+_id)}", path):
                assert parameter.replace("_", "") not in lowered, (where, operation_id)
            assert operation_id not in found, f"{operation_id}: {found[operation_id]} and {where}"
            found[operation_id] = where
    return found


async def test_every_operation_has_a_short_unique_operation_id(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    found = operation_ids(document)
    assert len(found) >= 20
    expected = {
        "createAgent": "POST /api/v1/agents",
        "listAgents": "GET /api/v1/agents",
        "getAgent": "GET /api/v1/agents/{agent_id}",
        "updateAgent": "PUT /api/v1/agents/{agent_id}",
        "patchAgent": "PATCH /api/v1/agents/{agent_id}",
        "deleteAgent": "DELETE /api/v1/agents/{agent_id}",
        "listAgentVersions": "GET /api/v1/agents/{agent_id}/versions",
        "getAgentVersion": "GET /api/v1/agents/{agent_id}/versions/{version}",
        "restoreAgentVersion": "POST /api/v1/agents/{agent_id}/versions/{version}/restore",
        "duplicateAgent": "POST /api/v1/agents/{agent_id}/duplicate",
        "exportAgents": "GET /api/v1/agents/export",
        "importAgents": "POST /api/v1/agents/import",
        "signup": "POST /api/v1/auth/signup",
        "login": "POST /api/v1/auth/login",
        "getMe": "GET /api/v1/auth/me",
        "createApiKey": "POST /api/v1/api-keys",
        "revokeApiKey": "DELETE /api/v1/api-keys/{key_id}",
        "createUser": "POST /api/v1/users",
    }
    assert {name: found.get(name) for name in expected} == expected


def test_routes_added_later_get_an_operation_id_from_their_handler() -> None:
    """A new route that names no operationId gets its handler's name in lowerCamelCase, by the
    same OpenAPIConfig as the app's; a route may still name its own."""

    class ReleaseController(Controller):
        path = "/api/v1/releases"

        @get("/")
        async def list_releases(self) -> list[str]:
            return []

        @post("/{number:int}/agents/{agent_id:uuid}/pin", operation_id="pinReleasedAgent")
        async def pin(self, number: FromPath[int], agent_id: FromPath[UUID]) -> None:
            return None

    app = Litestar(
        [ReleaseController],
        openapi_config=OpenAPIConfig(title="t", version="1", operation_id_creator=operation_id_for),
    )
    found = operation_ids(app.openapi_schema.to_schema())
    assert found == {
        "listReleases": "GET /api/v1/releases",
        "pinReleasedAgent": "POST /api/v1/releases/{number}/agents/{agent_id}/pin",
    }


async def test_the_document_carries_the_project_version(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["info"]["version"] == __version__ == version("agents-api")
