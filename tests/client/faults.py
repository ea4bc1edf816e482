"""Fault injection in front of the real app: a transport that answers (or fails) some requests
itself before letting the rest through. It does not replace our HTTP layer; it plays the network
and proxies between the SDK and the real app."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

import httpx

Fault = Callable[[httpx.Request], httpx.Response]


def problem(status: int, code: str | None = None, **headers: str) -> Fault:
    """An answer with this status and a problem document, as the API or a proxy would give."""

    def answer(request: httpx.Request) -> httpx.Response:
        body: dict[str, object] = {
            "type": "about:blank",
            "status": status,
            "title": HTTPStatus(status).phrase,
        }
        if code is not None:
            body["code"] = code
        return httpx.Response(
            status,
            headers={"Content-Type": "application/problem+json", **headers},
            content=json.dumps(body).encode(),
            request=request,
        )

    return answer


def connect_error(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def read_timeout(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("no answer in time", request=request)


class _Plan:
    def __init__(self) -> None:
        self.faults: list[Fault] = []
        self.seen: list[tuple[str, str]] = []
        self.reached_app: list[tuple[str, str]] = []

    def next_fault(self, request: httpx.Request) -> Fault | None:
        self.seen.append((request.method, request.url.path))
        if self.faults:
            return self.faults.pop(0)
        self.reached_app.append((request.method, request.url.path))
        return None


class AsyncFaults(httpx.AsyncBaseTransport, _Plan):
    """Apply ``faults`` to the next requests in order, then pass requests to ``inner``."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        _Plan.__init__(self)
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.next_fault(request)
        if fault is not None:
            return fault(request)
        return await self.inner.handle_async_request(request)


class SyncFaults(httpx.BaseTransport, _Plan):
    """The blocking twin, in front of an ``httpx.Client`` (Litestar's TestClient)."""

    def __init__(self, inner: httpx.Client) -> None:
        _Plan.__init__(self)
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        fault = self.next_fault(request)
        if fault is not None:
            return fault(request)
        answer = self.inner.send(request)
        return httpx.Response(
            answer.status_code, headers=answer.headers, content=answer.content, request=request
        )
