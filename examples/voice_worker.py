"""A sketch of a voice-agent runtime worker on the embedded catalog.

It opens the catalog on the database (the one ``agents seed`` filled), finds the seeded
"Triage Agent", loads its handoff graph and prints the handoff tools it would register with its
voice pipeline. Then it follows the change feed and prints them again whenever an admin changes
one of the agents in the graph (try ``PATCH /api/v1/agents/<id>`` while it runs).

    uv run agents seed
    uv run python examples/voice_worker.py [DATABASE_URL] [--once]

The database URL defaults to ``AGENTS_DATABASE_URL``, then to the same SQLite file the API uses.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from uuid import UUID

from sqlalchemy import func, select

from agents_core.db.database import Database
from agents_core.db.models import Agent
from agents_core.errors import AgentNotFound, EnvironmentNotFound
from agents_core.runtime import AgentCatalog, AgentDefinition, AgentGraph

ENTRY_AGENT = "Triage Agent"


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


async def find_entry(database: Database, name: str) -> tuple[UUID, UUID]:
    """The (organization, agent) of the first active agent with this name."""
    async with database.session() as session:
        row = (
            await session.execute(
                select(Agent.organization_id, Agent.id)
                .where(func.lower(Agent.name) == name.lower(), Agent.is_active.is_(True))
                .order_by(Agent.created_at)
                .limit(1)
            )
        ).first()
    if row is None:
        raise SystemExit(f"No active agent named {name!r}: run `agents seed` first.")
    return row[0], row[1]


async def main(url: str, *, once: bool) -> None:
    database = Database(url)
    try:
        organization_id, entry_id = await find_entry(database, ENTRY_AGENT)
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
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    default = os.environ.get("AGENTS_DATABASE_URL", "sqlite:///./var/agents.db")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args[0] if args else default, once="--once" in sys.argv))
