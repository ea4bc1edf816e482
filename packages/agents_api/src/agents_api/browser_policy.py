"""What every response tells a browser: ``X-Content-Type-Options: nosniff``, and CORS.

CORS is off unless ``AGENTS_CORS_ORIGINS`` lists origins. For a listed origin, a preflight
(``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered here, 204 and
without credentials, before routing and authentication (a browser never sends credentials with
a preflight); other responses to a listed origin name it in ``Access-Control-Allow-Origin`` and
expose the headers a client reads. A request from an origin not listed passes on untouched: it
gets no ``Access-Control-Allow-Origin``, so the browser keeps the answer from the page.

``OPTIONS`` answers ``Allow`` with the methods the path has, as the document lists them (the
router's own answer can miss one when a path's handlers come from two registrations).

Why not Litestar's ``CORSConfig``: its middleware takes every ``OPTIONS`` with an ``Origin`` for
a preflight (a plain ``OPTIONS`` would lose its ``Allow``), and answers a preflight from an
origin it does not allow with a plain-text 400 rather than a problem document; the contract asks
for neither. This layer is the few lines the contract needs, on the path of every request.
"""

from __future__ import annotations

from collections.abc import Mapping

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "ALLOWED_HEADERS",
    "ALLOWED_METHODS",
    "EXPOSED_HEADERS",
    "BrowserPolicy",
]

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = ("Authorization", "Content-Type", "If-Match", "If-None-Match", "X-Request-ID")
EXPOSED_HEADERS = ("ETag", "Location", "X-Total-Count", "X-Release", "X-Request-ID", "Retry-After")
PREFLIGHT_MAX_AGE = 600
"""Seconds a browser may reuse a preflight's answer."""

_NOSNIFF = (b"x-content-type-options", b"nosniff")
_VARY_ORIGIN = (b"vary", b"Origin")


class BrowserPolicy:
    """The outermost layer below the request observer (so that its answers carry a request id)."""

    __slots__ = ("_allowed", "_app", "_exposed", "_origins", "_preflight")

    def __init__(
        self,
        app: ASGIApp,
        cors_origins: tuple[str, ...] = (),
        allowed_methods: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """``allowed_methods``: each route template's methods (``OPTIONS`` is added)."""
        self._app = app
        self._allowed = {
            template: ", ".join(sorted({*methods, "OPTIONS"})).encode("latin-1")
            for template, methods in (allowed_methods or {}).items()
        }
        self._origins = frozenset(origin.encode("latin-1") for origin in cors_origins)
        self._exposed = (
            b"access-control-expose-headers",
            ", ".join(EXPOSED_HEADERS).encode("latin-1"),
        )
        self._preflight = [
            (b"access-control-allow-methods", ", ".join(ALLOWED_METHODS).encode("latin-1")),
            (b"access-control-allow-headers", ", ".join(ALLOWED_HEADERS).encode("latin-1")),
            (b"access-control-max-age", str(PREFLIGHT_MAX_AGE).encode("latin-1")),
            _VARY_ORIGIN,
            _NOSNIFF,
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self._app(scope, receive, send)
            return
        origin: bytes | None = None
        if self._origins:
            origin = self._listed_origin(scope)
            if origin is not None and scope["method"] == "OPTIONS" and _asks_preflight(scope):
                await self._answer_preflight(origin, send)
                return
        added = (
            [_NOSNIFF]
            if origin is None
            else [_NOSNIFF, (b"access-control-allow-origin", origin), _VARY_ORIGIN, self._exposed]
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *added]
                if scope["method"] == "OPTIONS" and message["status"] < 300:
                    allow = self._allowed.get(scope.get("path_template", ""))
                    if allow is not None:
                        headers = [h for h in headers if h[0].lower() != b"allow"]
                        headers.append((b"allow", allow))
                message["headers"] = headers
            await send(message)

        await self._app(scope, receive, send_with_headers)

    def _listed_origin(self, scope: Scope) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"origin":
                return value if value in self._origins else None
        return None

    async def _answer_preflight(self, origin: bytes, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 204,
                "headers": [(b"access-control-allow-origin", origin), *self._preflight],
            }
        )
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def _asks_preflight(scope: Scope) -> bool:
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])
