"""Reject request bodies over the limit on every route, declared length or not."""

from __future__ import annotations

from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send

__all__ = ["BodyLimitMiddleware"]


class BodyLimitMiddleware:
    """413 for a body over ``limit`` bytes.

    A declared ``Content-Length`` is checked before anything is read. A chunked body (no
    length) is read here up to the limit and handed on, so that routes which never read a body
    reject it too.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A route middleware: Litestar calls it for the app's routes, all of them HTTP.
        declared: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                raise ClientException("Invalid Content-Length header") from None
            if length > self.limit:
                raise RequestEntityTooLarge(f"Request body is larger than {self.limit} bytes")
            await self.app(scope, receive, send)
            return
        if not chunked:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if len(body) > self.limit:
                raise RequestEntityTooLarge(f"Request body is larger than {self.limit} bytes")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> ReceiveMessage:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)
