"""The SDK mirrors the API: every operation of the app's OpenAPI document has a client method,
and every client method calls an operation the app has."""

from __future__ import annotations

import inspect
from typing import Any

import httpx
import pytest
from litestar import Litestar

from agents_client import AgentsClient, AsyncAgentsClient, operations
from agents_client.endpoints import Pager, Resource
from tests.client.conftest import BASE_URL, asgi_client

HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


@pytest.fixture
async def openapi_operations(app: Litestar) -> set[tuple[str, str]]:
    async with asgi_client(app) as http:
        response = await http.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    found = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in HTTP_METHODS
        if method in item
    }
    assert ("GET", "/api/v1/agents") in found  # the document is the one we think it is
    return found


def client_operations() -> dict[str, tuple[str, str]]:
    client = AgentsClient(BASE_URL)
    try:
        return {name: (r.method, r.path) for name, r in operations(client).items()}
    finally:
        client.close()


def test_the_registry_is_not_empty() -> None:
    names = client_operations()
    assert names["agents.versions.restore"] == (
        "POST",
        "/api/v1/agents/{agent_id}/versions/{version}/restore",
    )
    assert names["agents.iterate"] == names["agents.list"]
    assert len(names) >= 25


def test_every_operation_has_a_client_method(openapi_operations: set[tuple[str, str]]) -> None:
    covered = set(client_operations().values())
    missing = sorted(openapi_operations - covered)
    assert missing == [], f"operations without a client method: {missing}"


def test_every_client_method_calls_an_operation_of_the_app(
    openapi_operations: set[tuple[str, str]],
) -> None:
    unknown = {
        name: route
        for name, route in client_operations().items()
        if route not in openapi_operations
    }
    assert unknown == {}, f"client methods calling routes the app does not have: {unknown}"


def _method(root: object, dotted: str) -> Any:
    value = root
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _is_pager(root: object, dotted: str) -> bool:
    *path, name = dotted.split(".")
    owner = _method(root, ".".join(path)) if path else root
    return isinstance(inspect.getattr_static(type(owner), name), Pager)


async def test_sync_and_async_clients_have_the_same_methods() -> None:
    sync = AgentsClient(BASE_URL)
    async with (
        httpx.AsyncClient() as http,
        AsyncAgentsClient(BASE_URL, http_client=http) as asynchronous,
    ):
        assert operations(sync) == operations(asynchronous)
        for name in operations(sync):
            sync_method, async_method = _method(sync, name), _method(asynchronous, name)
            assert inspect.signature(sync_method) == inspect.signature(async_method), name
            assert sync_method.__doc__, name
            assert sync_method.__doc__ == async_method.__doc__, name
            paging = _is_pager(sync, name)
            assert inspect.iscoroutinefunction(async_method) is not paging, name
            assert not inspect.iscoroutinefunction(sync_method), name
    sync.close()


def test_constructors_take_the_same_arguments() -> None:
    sync = inspect.signature(AgentsClient.__init__).parameters
    asynchronous = inspect.signature(AsyncAgentsClient.__init__).parameters
    assert list(sync) == [
        "self",
        "base_url",
        "api_key",
        "token",
        "timeout",
        "max_retries",
        "http_client",
    ]
    assert list(sync) == list(asynchronous)
    for name, parameter in sync.items():
        if name in {"self", "base_url"}:
            continue
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY, name
        assert parameter.default == asynchronous[name].default, name
        if name != "http_client":  # httpx.Client vs httpx.AsyncClient
            assert parameter.annotation == asynchronous[name].annotation, name


def test_no_public_resource_method_escapes_the_registry() -> None:
    """Every public callable of every resource is a registered operation, so the mirror test
    sees all the requests the SDK can send."""
    client = AgentsClient(BASE_URL)
    registered = set(operations(client))

    def public_methods(root: object, prefix: str) -> set[str]:
        names: set[str] = set()
        for name in dir(root):
            if name.startswith("_"):
                continue
            value = getattr(root, name)
            if isinstance(value, Resource):
                names |= public_methods(value, f"{prefix}{name}.")
            elif callable(value) and prefix:
                names.add(prefix + name)
        return names

    assert public_methods(client, "") == registered
    client.close()
