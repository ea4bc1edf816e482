"""What the server holds: the organization's active agents with their ids and versions.

``GET /agents`` gives each agent's id, ``current_version`` and configuration at that version in
one item, so the lock's versions always match the configurations the files are built from. It
is read page by page (500 agents a page); pages read while agents are created or deleted can
miss or repeat an agent, so a read is accepted only when every page reports the same total,
the agents read are exactly that many, and every handoff target is among them (handoff targets
become names). Otherwise it is read again. Listing is open to members, so ``pull`` and ``diff``
work with a read-only key; ``GET /agents/export`` would need an admin's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from agents_client.client import AgentsClient
from agents_client.ctl.agent_files import normalized
from agents_client.spec import Page
from agents_core.schemas import AgentExport, AgentPublic, Role

__all__ = ["ServerAgent", "ServerChanging", "ServerState", "combine", "read_server"]

READ_ATTEMPTS: Final = 3
PAGE_SIZE: Final = 500


@dataclass(frozen=True, slots=True)
class ServerAgent:
    """One active agent: its configuration in portable form (handoff targets by name,
    normalized) and, for the same version, its id, version and handoff targets by id."""

    id: UUID
    version: int
    config: AgentExport
    handoff_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class ServerState:
    organization_id: UUID
    agents: tuple[ServerAgent, ...]
    """Oldest first, as an export lists them."""
    role: Role = Role.ADMIN
    """The credential's role: only an admin may write."""


class ServerChanging(Exception):
    """The organization's agents changed during every attempt to read them."""


def combine(
    organization_id: UUID, pages: Sequence[Page[AgentPublic]], role: Role = Role.ADMIN
) -> ServerState | None:
    """The state from the pages of one listing; ``None`` when they are not of one moment."""
    totals = {page.total for page in pages}
    listed = [agent for page in pages for agent in page.items]
    names = {agent.id: agent.name for agent in listed}
    if len(totals) > 1 or len(names) != len(listed) or len(listed) != min(totals, default=0):
        return None
    if any(target not in names for agent in listed for target in agent.handoff_targets):
        return None
    agents = [
        ServerAgent(
            id=agent.id,
            version=agent.current_version,
            config=normalized(AgentExport.of(agent, names)),
            handoff_ids=tuple(agent.handoff_targets),
        )
        for agent in sorted(listed, key=lambda a: (a.created_at, a.id))
    ]
    return ServerState(organization_id=organization_id, agents=tuple(agents), role=role)


def read_server(client: AgentsClient) -> ServerState:
    """The organization's agents, read consistently (see the module's docs)."""
    me = client.auth.me()
    for _ in range(READ_ATTEMPTS):
        pages = [client.agents.list(limit=PAGE_SIZE, offset=0)]
        while pages[-1].has_more:
            last = pages[-1]
            pages.append(client.agents.list(limit=PAGE_SIZE, offset=last.offset + len(last.items)))
        state = combine(me.organization_id, pages, me.role)
        if state is not None:
            return state
    raise ServerChanging(
        "the organization's agents kept changing while agentsctl read them: try again"
    )
