"""The OpenAPI document: every route has a tag, a summary and its error responses documented."""

from __future__ import annotations

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
