"""Values handlers ask for by name."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.di import Provide

from agents_api.security import request_context
from agents_api.settings import Settings
from agents_api.tokens import TokenCodec
from agents_core.db import Connection, Database
from agents_core.principal import Principal
from agents_core.service import Scope

__all__ = ["Caller", "dependencies"]


class Caller(Scope):
    """Who calls an authenticated route, and the request's database connection (the one
    authentication used): the scope a handler makes a service for, e.g.
    ``AgentService(caller)``. A handler asks for it as ``caller: NamedDependency[Caller]``, one
    dependency (two would be resolved in a task group, which costs more than the rest of a small
    request's dependencies)."""

    __slots__ = ("principal",)

    def __init__(self, principal: Principal, conn: Connection) -> None:
        # The user is the author of a change (``None`` for an API key).
        super().__init__(conn, principal.organization_id, principal.actor_id)
        self.principal = principal


def _caller(request: Request[Any, Any, Any]) -> Caller:
    context = request_context(request)
    assert context.principal is not None, "the caller is only asked for on authenticated routes"
    return Caller(context.principal, context.conn)


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
    "caller": Provide(_caller, sync_to_thread=False),
    "conn": Provide(_conn, sync_to_thread=False),
    "database": Provide(_database, sync_to_thread=False),
    "settings": Provide(_settings, sync_to_thread=False),
    "tokens": Provide(_tokens, sync_to_thread=False),
}
