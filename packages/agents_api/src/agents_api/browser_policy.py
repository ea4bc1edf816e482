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

from litestar.types import HTTPScope, Scope

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
    """What the outermost layer (:class:`~agents_api.request_observer.RequestObserver`) adds
    to every answer for browsers, and the preflights it answers itself."""

    __slots__ = ("_allowed", "_exposed", "_origins", "_preflight")

    def __init__(
        self,
        cors_origins: tuple[str, ...] = (),
        allowed_methods: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """``allowed_methods``: each route template's methods (``OPTIONS`` is added)."""
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

    def headers_for(self, scope: HTTPScope) -> tuple[list[tuple[bytes, bytes]], bool]:
        """The headers every answer to this request gets, and whether it is a preflight this
        layer answers itself (204, those headers, no body)."""
        if self._origins:
            origin = self._listed_origin(scope)
            if origin is not None:
                if scope["method"] == "OPTIONS" and _asks_preflight(scope):
                    return [(b"access-control-allow-origin", origin), *self._preflight], True
                cors = [(b"access-control-allow-origin", origin), _VARY_ORIGIN, self._exposed]
                return [_NOSNIFF, *cors], False
        return _ALWAYS, False

    def allow(self, scope: Scope) -> bytes | None:
        """``Allow`` for a successful ``OPTIONS``: the path's methods as documented."""
        return self._allowed.get(scope.get("path_template", ""))

    def _listed_origin(self, scope: Scope) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"origin":
                return value if value in self._origins else None
        return None


_ALWAYS = [_NOSNIFF]


def _asks_preflight(scope: Scope) -> bool:
    return any(name == b"access-control-request-method" for name, _ in scope["headers"])
