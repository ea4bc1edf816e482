"""Values handlers ask for by name."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import NamedDependency, Provide

from agents_api.security import request_context
from agents_api.settings import Settings
from agents_api.tokens import TokenCodec
from agents_core.db import Connection, Database
from agents_core.principal import Principal

__all__ = ["dependencies"]


def _principal(request: Request[Any, Any, Any], conn: NamedDependency[Connection]) -> Principal:
    """Who is calling (authenticated routes only).

    It asks for ``conn`` (which it does not use) so that Litestar resolves the two one after the
    other: dependencies asked for side by side are resolved as tasks of an anyio task group,
    on every request — a third of the CPU of reading one agent.
    """
    principal = request_context(request).principal
    assert principal is not None, "principal is only asked for on authenticated routes"
    return principal


def _conn(request: Request[Any, Any, Any]) -> Connection:
    """The request's database connection (the one authentication used), for its reads and its
    writes: one pool checkout per request, taken at its first statement."""
    return request_context(request).conn


def _database(request: Request[Any, Any, Any]) -> Database:
    database: Database = request.app.state.database
    return database


def _settings(request: Request[Any, Any, Any]) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _tokens(request: Request[Any, Any, Any]) -> TokenCodec:
    tokens: TokenCodec = request.app.state.tokens
    return tokens


dependencies = {
    "principal": Provide(_principal, sync_to_thread=False),
    "conn": Provide(_conn, sync_to_thread=False),
    "database": Provide(_database, sync_to_thread=False),
    "settings": Provide(_settings, sync_to_thread=False),
    "tokens": Provide(_tokens, sync_to_thread=False),
}
