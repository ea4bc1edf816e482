# ruff: noqa: E402  (imports follow the sys.path fix below)
"""The raw limit: the same reads and update as the API, by hand, on asyncpg + msgspec.

A minimal ASGI app with no framework: check the JWT (pyjwt), look the user up, run the
statements, encode with msgspec. ``benchmarks/http.py`` serves it next to the real server, the
same way (uvicorn, one worker, no access log), and prints every figure as a ratio to it.

    AGENTS_DATABASE_URL=… AGENTS_SECRET_KEY=… python benchmarks/raw_baseline.py --port 8001

Routes: ``GET /api/v1/agents/{id}``, ``GET /api/v1/agents?limit=N`` and
``PUT /api/v1/agents/{id}`` with a ``voice`` (the update the benchmark sends: in one
transaction, the agent locked, its configuration saved as a version, the agent updated, and an
event recorded under the organization's ordering lock with its notice, as the API does).
Anything else is 404.
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
from datetime import UTC, datetime
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
_LOCK_SQL = _GET_SQL + " FOR UPDATE"
_SAVE_VERSION_SQL = (
    "INSERT INTO agent_versions (id, agent_id, version, snapshot, created_by, created_at, "
    "updated_at) VALUES ($1, $2, $3, $4::jsonb, $5, $6, $6)"
)
_UPDATE_SQL = (
    "UPDATE agents SET voice = $2, current_version = current_version + 1, updated_at = $3 "
    f"WHERE id = $1 RETURNING {_COLUMNS}"
)
# The organization's ordering lock and the event's notice (delivered at commit), then the
# event, numbered under the lock (a statement of its own: one that took the lock itself would
# read the last number from a snapshot older than the lock).
_ORDER_SQL = "SELECT pg_advisory_xact_lock(1634166134, hashtext($1::text)), pg_notify($2, $3)"
_EVENT_SQL = (
    "INSERT INTO agent_events (organization_id, position, agent_id, version, kind, actor_id, "
    "created_at) VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM agent_events "
    "WHERE organization_id = $1), $2, $3, 'updated', $4, $5)"
)
_CONFIG = ("name", "instructions", "model", "voice", "handoff_targets", "tools", "modality")
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
        status, headers, body = await self._handle(scope, receive)
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

    async def _handle(self, scope: dict[str, Any], receive: Any) -> tuple[int, list[Any], bytes]:
        path: str = scope["path"]
        if scope["method"] not in ("GET", "PUT") or not path.startswith(_PREFIX):
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
                if scope["method"] == "PUT":
                    return await self._update(conn, receive, agent_id, org_id, user_id)
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

    async def _update(
        self, conn: Any, receive: Any, agent_id: uuid.UUID, org_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[int, list[Any], bytes]:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        voice = msgspec.json.decode(body)["voice"]
        async with conn.transaction():
            row = await conn.fetchrow(_LOCK_SQL, agent_id, org_id)
            if row is None:
                return 404, [_JSON], b'{"status":404}'
            agent = Agent(*row)
            snapshot = {name: getattr(agent, name) for name in _CONFIG}
            snapshot["panels"] = agent.panels
            now = datetime.now(UTC)
            await conn.execute(
                _SAVE_VERSION_SQL,
                uuid.uuid4(),
                agent.id,
                agent.current_version,
                _encode(snapshot).decode(),
                user_id,
                now,
            )
            updated = Agent(*await conn.fetchrow(_UPDATE_SQL, agent.id, voice, now))
            version = updated.current_version
            notice = f"{org_id}:{agent.id}:{version}"
            await conn.execute(_ORDER_SQL, str(org_id), "agent_events", notice)
            await conn.execute(_EVENT_SQL, org_id, agent.id, version, user_id, now)
        etag = f'"{updated.current_version}"'.encode()
        return 200, [_JSON, (b"etag", etag)], _encode(updated)


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
