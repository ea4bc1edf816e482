"""The outermost layer of the app: every request gets an id, a log line, its metrics, and the
headers browsers need (:mod:`agents_api.browser_policy`: ``nosniff``, CORS).

It wraps Litestar's own entry point (not a Litestar middleware, which runs only for requests
that match a route), so 404s and 405s from the router are seen too. It is on the path of every
request: no per-request objects beyond one closure, the label and log work only when on.
"""

from __future__ import annotations

import logging
from time import perf_counter

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from agents_api.browser_policy import BrowserPolicy
from agents_api.metrics import AppMetrics
from agents_api.request_ids import (
    REQUEST_ID_HEADER,
    accepted_request_id,
    current,
    new_request_id,
)

__all__ = ["UNMATCHED_ROUTE", "RequestObserver"]

UNMATCHED_ROUTE = "<unmatched>"
"""The route of a request that matched none (its raw path would make a series per URL)."""

request_log = logging.getLogger("agents_api.requests")


class RequestObserver:
    __slots__ = ("app", "log_requests", "metrics", "policy")

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: AppMetrics | None,
        log_requests: bool,
        policy: BrowserPolicy,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id: str | None = None
        for name, value in scope["headers"]:
            if name == REQUEST_ID_HEADER:
                request_id = accepted_request_id(value)
                break
        if request_id is None:
            request_id = new_request_id()
        token = current.set(request_id)
        added, preflight = self.policy.headers_for(scope)
        added = [*added, (REQUEST_ID_HEADER, request_id.encode("ascii"))]
        # What the server answers when the app fails before it starts a response.
        status = 500
        started = perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", ()), *added]
                if scope["method"] == "OPTIONS" and status < 300:
                    allow = self.policy.allow(scope)
                    if allow is not None:
                        headers = [h for h in headers if h[0].lower() != b"allow"]
                        headers.append((b"allow", allow))
                message["headers"] = headers
            await send(message)

        try:
            if preflight:
                status = 204
                await send({"type": "http.response.start", "status": 204, "headers": added})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            else:
                await self.app(scope, receive, send_with_headers)
        finally:
            seconds = perf_counter() - started
            route = scope.get("path_template") or UNMATCHED_ROUTE
            method = scope["method"]
            if self.metrics is not None:
                self.metrics.observe(route, method, status, seconds)
            if self.log_requests and request_log.isEnabledFor(logging.INFO):
                milliseconds = round(seconds * 1000, 3)
                request_log.info(
                    "%s %s %d %.2fms",
                    method,
                    route,
                    status,
                    milliseconds,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": milliseconds,
                        "request_id": request_id,
                    },
                )
            current.reset(token)
