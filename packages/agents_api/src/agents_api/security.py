"""Authentication, the request's database connection, and the role guard.

One middleware authenticates either kind of credential into a :class:`Principal` and keeps the
connection it used for that lookup, so the handler's reads and writes share it: one pool checkout
and at most one indexed query for authentication per request.
"""

from __future__ import annotations

import time
from typing import Any, cast
from uuid import UUID

from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agents_api.tokens import TokenCodec
from agents_api.write_gates import WRITES
from agents_core.api_keys.service import ApiKeyAuthenticator, looks_like_api_key
from agents_core.db import Connection, Database
from agents_core.principal import Principal
from agents_core.users.service import AccountService

__all__ = [
    "PUBLIC",
    "RequestContext",
    "RequestContextMiddleware",
    "VerifiedTokens",
    "request_context",
    "requires_admin",
]

PUBLIC = {"public": True}
"""Route ``opt`` for handlers that need no credentials."""

_CONTEXT_KEY = "agents.request_context"


class RequestContext:
    """Per-request state: the principal and the request's database connection (a lease that
    takes a pooled connection on its first statement)."""

    __slots__ = ("conn", "principal")

    def __init__(self, database: Database) -> None:
        self.conn: Connection = database.connection()
        self.principal: Principal | None = None

    async def close(self) -> None:
        await self.conn.release()


def request_context(scope: Scope | ASGIConnection[Any, Any, Any, Any]) -> RequestContext:
    raw = scope.scope if isinstance(scope, ASGIConnection) else scope
    return cast("RequestContext", cast("dict[str, Any]", raw)[_CONTEXT_KEY])


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            return None
    return None


class VerifiedTokens:
    """Access tokens whose signature has been checked, with the user each names and its expiry.

    Checking an HS256 signature costs as much as the rest of authentication; a client sends the
    same token on every request until it expires. A token cannot be revoked (the user's current
    state is read on every request anyway), so remembering that it verified changes nothing but
    the cost: an entry is used only before its ``exp``.
    """

    __slots__ = ("_entries", "_max_entries")

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: dict[str, tuple[UUID, float]] = {}
        self._max_entries = max_entries

    def user_id(self, token: str, tokens: TokenCodec) -> UUID | None:
        entry = self._entries.get(token)
        if entry is not None:
            if time.time() < entry[1]:
                return entry[0]
            del self._entries[token]
        verified = tokens.verify(token)
        if verified is None:
            return None
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        user_id, expires = verified
        self._entries[token] = (user_id, float(expires))
        return user_id


class RequestContextMiddleware:
    """Sets up the request context, authenticates non-public routes, releases the connection."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        state = scope["litestar_app"].state
        context = RequestContext(state.database)
        cast("dict[str, Any]", scope)[_CONTEXT_KEY] = context
        opt = scope["route_handler"].opt
        try:
            written = opt.get(WRITES)
            if written is None:
                await self._serve(scope, receive, send, context, opt)
            else:
                key = (written, scope["path_params"].get(written))
                async with state.write_gates.passing(key, context.conn):
                    await self._serve(scope, receive, send, context, opt)
        finally:
            await context.close()

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        context: RequestContext,
        opt: dict[str, Any],
    ) -> None:
        # OPTIONS says which methods a path has, nothing more, and a browser's CORS preflight
        # never carries credentials: it needs none.
        if not opt.get("public") and scope.get("method") != "OPTIONS":
            state = scope["litestar_app"].state
            principal = await self._authenticate(
                scope, context, state.tokens, state.verified_tokens
            )
            context.principal = principal
            scope["user"] = principal
            scope["auth"] = principal

        async def send_and_release(message: Message) -> None:
            # The handler is done with the database once the response starts (its transaction
            # has ended): give the connection back before writing to the client, so that
            # requests waiting for one are not held up by it. A streamed answer still reading
            # in its transaction keeps the connection until the end (released below).
            if message["type"] == "http.response.start" and not context.conn.in_transaction:
                await context.close()
            await send(message)

        await self.app(scope, receive, send_and_release)

    @staticmethod
    async def _authenticate(
        scope: Scope, context: RequestContext, tokens: TokenCodec, verified: VerifiedTokens
    ) -> Principal:
        token = _bearer_token(scope)
        if token is None:
            raise NotAuthorizedException("Missing bearer credentials")
        principal: Principal | None
        if looks_like_api_key(token):
            principal = await ApiKeyAuthenticator(context.conn).principal(token)
        else:
            user_id = verified.user_id(token, tokens)
            principal = (
                None if user_id is None else await AccountService(context.conn).principal(user_id)
            )
        if principal is None:
            raise NotAuthorizedException("Invalid or expired credentials")
        return principal


async def requires_admin(
    connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler
) -> None:
    """Guard: only an admin credential may call the route (async: no thread-pool hop)."""
    principal = request_context(connection).principal
    if principal is None or not principal.is_admin:
        raise PermissionDeniedException("This action requires the admin role")
