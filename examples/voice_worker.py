"""A sketch of a voice-agent runtime worker on the embedded catalog.

It opens the catalog on the database that ``agents seed`` filled, finds the seeded organization
(through its admin's email) and that organization's "Triage Agent", loads its handoff graph as
the ``production`` environment serves it (the release the seed made) and prints the handoff
tools it would register with its voice pipeline. Then it follows the change feed and prints
them again whenever ``production`` is moved (try ``POST /api/v1/releases`` then
``PUT /api/v1/environments/production`` while it runs: an agent edit alone changes nothing).

    uv run agents seed
    uv run python examples/voice_worker.py [--once]

The database is ``AGENTS_DATABASE_URL``, else the SQLite file the API uses by default:
``$AGENTS_VAR_DIR/agents.db`` (``./var/agents.db``). ``AGENTS_SEED_ADMIN_EMAIL`` names the
seeded admin when ``agents seed --admin-email`` was given another one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from pathlib import Path
from uuid import UUID

from sqlalchemy import bindparam, func, select

from agents_core.db.database import Database, Query
from agents_core.db.models import Agent, User
from agents_core.db.startup import DatabaseStartupError, check, check_schema
from agents_core.errors import AgentNotFound, EnvironmentNotFound
from agents_core.runtime import AgentCatalog, AgentDefinition, AgentGraph
from agents_core.seed import DEMO_ADMIN_EMAIL

ENTRY_AGENT = "Triage Agent"

ENTRY = Query(
    select(Agent.organization_id, Agent.id)
    .join(User, User.organization_id == Agent.organization_id)
    .where(
        func.lower(User.email) == func.lower(bindparam("admin_email")),
        func.lower(Agent.name) == func.lower(bindparam("name")),
        Agent.is_active.is_(True),
    )
)
"""The active agent of this name in the organization of this admin (one at most: names are
unique among an organization's active agents)."""


def tool_name(agent: AgentDefinition) -> str:
    """The function name an LLM would call to hand the call over to ``agent``."""
    return "transfer_to_" + (re.sub(r"[^a-z0-9]+", "_", agent.name.lower()).strip("_") or "agent")


def describe(graph: AgentGraph) -> str:
    lines = [
        f"Entry agent {graph.entry.name!r} (v{graph.entry.version}) in release {graph.release},"
        f" {len(graph)} agent(s):"
    ]
    for agent in graph:
        lines.append(
            f"  {agent.name} v{agent.version} · model {agent.model} · voice {agent.voice or '-'}"
            f" · tools {list(agent.tools) or '-'}"
        )
        for handoff in agent.handoffs:
            target = graph[handoff.agent_id]
            lines.append(f"    handoff tool {tool_name(target)}() -> {handoff.name}")
    return "\n".join(lines)


def database_url() -> str:
    """``AGENTS_DATABASE_URL``, else the API's default SQLite file (which must exist)."""
    configured = os.environ.get("AGENTS_DATABASE_URL")
    if configured:
        return configured
    path = Path(os.environ.get("AGENTS_VAR_DIR") or "var") / "agents.db"
    if not path.is_file():
        raise SystemExit(
            f"No database at {path.resolve()}: run `uv run agents seed` first, or set "
            "AGENTS_DATABASE_URL (or AGENTS_VAR_DIR) to the API's database."
        )
    return f"sqlite:///{path}"


async def find_entry(database: Database, admin_email: str, name: str) -> tuple[UUID, UUID]:
    """(organization, agent): the active agent ``name`` of ``admin_email``'s organization."""
    async with database.connect() as conn:
        row = await conn.fetchrow(ENTRY, {"admin_email": admin_email, "name": name})
    if row is None:
        raise SystemExit(
            f"No active agent named {name!r} in the organization of {admin_email}: run "
            "`uv run agents seed` first."
        )
    return row[0], row[1]


async def main(url: str, *, once: bool) -> None:
    try:
        await check(url, setting="AGENTS_DATABASE_URL")
    except DatabaseStartupError as exc:
        raise SystemExit(str(exc)) from None
    database = Database(url)
    try:
        try:
            await check_schema(database, setting="AGENTS_DATABASE_URL", configured_url=url)
        except DatabaseStartupError as exc:
            raise SystemExit(str(exc)) from None
        admin_email = os.environ.get("AGENTS_SEED_ADMIN_EMAIL") or DEMO_ADMIN_EMAIL
        organization_id, entry_id = await find_entry(database, admin_email, ENTRY_AGENT)
        async with AgentCatalog.open(database, poll_interval=0.5) as catalog:
            with catalog.changes() as changes:
                # Calls are served from the release `production` points at: editing an agent
                # changes nothing here until a release with the edit is deployed there
                # (PUT /api/v1/environments/production, or rollback).
                graph = await catalog.graph(organization_id, entry_id, environment="production")
                print(describe(graph), flush=True)
                if once:
                    return
                async for change in changes:
                    if not change.is_reset and change.environment != "production":
                        continue  # not a move of production
                    try:
                        graph = await catalog.graph(
                            organization_id, entry_id, environment="production"
                        )
                    except (AgentNotFound, EnvironmentNotFound):
                        print(f"production no longer serves {ENTRY_AGENT!r}; stopping.", flush=True)
                        return
                    print(f"\nDeployed (production revision {change.version}):", flush=True)
                    print(describe(graph), flush=True)
    finally:
        await database.close()


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(database_url(), once="--once" in sys.argv[1:]))
