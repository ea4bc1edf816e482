# ruff: noqa: E402  (imports follow the sys.path fix below)
"""The raw limit: the same two reads as the API, by hand, on asyncpg + msgspec.

A minimal ASGI app with no framework: check the JWT (pyjwt), look the user up, run one query,
encode with msgspec. ``benchmarks/http.py`` serves it next to the real server, the same way
(uvicorn, one worker, no access log), and prints every figure as a ratio to it.

    AGENTS_DATABASE_URL=… AGENTS_SECRET_KEY=… python benchmarks/raw_baseline.py --port 8001

Routes: ``GET /api/v1/agents/{id}`` and ``GET /api/v1/agents?limit=N``. Anything else is 404.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path; it holds ``http.py``, which
# would shadow the standard library's ``http`` for every module imported after this point.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import jwt
import msgspec
import uvicorn


class Agent(msgspec.Struct):
    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    instructions: str
    model: str
    voice: str | None
    handoff_targets: list[uuid.UUID]
    tools: list[str]
    modality: str
    panels: list[str]
    is_active: bool
    current_version: int
    created_at: datetime
    updated_at: datetime


_COLUMNS = (
    "id, organization_id, name, instructions, model, voice, handoff_targets, tools, modality, "
    "panels, is_active, current_version, created_at, updated_at"
)
_USER_SQL = "SELECT organization_id FROM users WHERE id = $1 AND is_active"
_GET_SQL = f"SELECT {_COLUMNS} FROM agents WHERE id = $1 AND organization_id = $2 AND is_active"
_LIST_SQL = (
    f"SELECT {_COLUMNS}, count(*) OVER () FROM agents "
    "WHERE organization_id = $1 AND is_active "
    "ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
)
_PREFIX = "/api/v1/agents"
_JSON = (b"content-type", b"application/json")
_encode = msgspec.json.Encoder().encode


class RawApp:
    def __init__(self, dsn: str, secret: str) -> None:
        self.dsn = dsn
        self.secret = secret
        self.pool: Any = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        status, headers, body = await self._handle(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _user_id(self, scope: dict[str, Any]) -> uuid.UUID | None:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() != "bearer":
                    return None
                try:
                    # The same checks as the API's (issuer, audience, every claim present).
                    claims = jwt.decode(
                        token,
                        self.secret,
                        algorithms=["HS256"],
                        issuer="agents-api",
                        audience="agents-api",
                        options={"require": ["sub", "iat", "exp", "iss", "aud"]},
                    )
                    return uuid.UUID(claims["sub"])
                except (jwt.PyJWTError, ValueError):
                    return None
        return None

    async def _handle(self, scope: dict[str, Any]) -> tuple[int, list[Any], bytes]:
        path: str = scope["path"]
        if scope["method"] != "GET" or not path.startswith(_PREFIX):
            return 404, [_JSON], b'{"status":404}'
        user_id = self._user_id(scope)
        if user_id is None:
            return 401, [_JSON], b'{"status":401}'
        async with self.pool.acquire() as conn:
            org_id = await conn.fetchval(_USER_SQL, user_id)
            if org_id is None:
                return 401, [_JSON], b'{"status":401}'
            rest = path[len(_PREFIX) :].strip("/")
            if rest:
                try:
                    agent_id = uuid.UUID(rest)
                except ValueError:
                    return 404, [_JSON], b'{"status":404}'
                row = await conn.fetchrow(_GET_SQL, agent_id, org_id)
                if row is None:
                    return 404, [_JSON], b'{"status":404}'
                agent = Agent(*row)
                etag = f'"{agent.current_version}"'.encode()
                return 200, [_JSON, (b"etag", etag)], _encode(agent)
            query = parse_qs(scope["query_string"].decode("latin-1"))
            limit = int(query.get("limit", ["100"])[0])
            offset = int(query.get("offset", ["0"])[0])
            rows = await conn.fetch(_LIST_SQL, org_id, limit, offset)
        total = rows[0][14] if rows else 0
        agents = [Agent(*row[:14]) for row in rows]
        return 200, [_JSON, (b"x-total-count", str(total).encode())], _encode(agents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    dsn = os.environ["AGENTS_DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    app = RawApp(dsn, os.environ["AGENTS_SECRET_KEY"])
    uvicorn.run(app, host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
