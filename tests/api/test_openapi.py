"""The OpenAPI document: every route has a tag, a summary and its error responses documented."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

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
