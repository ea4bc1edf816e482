"""What the server holds: the organization's active agents with their ids and versions.

``GET /agents/export`` gives every agent in portable form (handoff targets by name) in one
answer; ``GET /agents`` gives ids and ``current_version``, page by page. The two are read one
after the other, so an agent changed in between would pair a configuration with the wrong
version, and the lock would then claim a base the files were not built from. The read is
therefore accepted only when both answers describe the same agents with the same
configurations, and made again otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final
from uuid import UUID

from agents_client.client import AgentsClient
from agents_client.ctl.agent_files import normalized
from agents_core.schemas import AgentExport, AgentPublic

__all__ = ["ServerAgent", "ServerChanging", "ServerState", "combine", "read_server"]

READ_ATTEMPTS: Final = 3
PAGE_SIZE: Final = 500


@dataclass(frozen=True, slots=True)
class ServerAgent:
    """One active agent: its configuration in portable form (normalized) and, for the same
    version, its id, version and handoff targets by id."""

    id: UUID
    version: int
    config: AgentExport
    handoff_ids: tuple[UUID, ...]


@dataclass(frozen=True, slots=True)
class ServerState:
    organization_id: UUID
    agents: tuple[ServerAgent, ...]
    """Oldest first (the export's order)."""


class ServerChanging(Exception):
    """The organization's agents changed during every attempt to read them."""


def _portable(agent: AgentPublic, names: dict[UUID, str]) -> AgentExport:
    return AgentExport(
        name=agent.name,
        instructions=agent.instructions,
        model=agent.model,
        voice=agent.voice,
        modality=agent.modality,
        panels=list(agent.panels),
        tools=list(agent.tools),
        handoff_targets=[names.get(target, "") for target in agent.handoff_targets],
    )


def combine(
    organization_id: UUID, exported: Sequence[AgentExport], listed: Sequence[AgentPublic]
) -> ServerState | None:
    """The state, when the export and the listing agree; ``None`` when they do not."""
    by_name = {agent.name: agent for agent in listed}
    if len(by_name) != len(listed) or len(exported) != len(listed):
        return None
    names = {agent.id: agent.name for agent in listed}
    agents: list[ServerAgent] = []
    for item in exported:
        agent = by_name.get(item.name)
        config = normalized(item)
        if agent is None or normalized(_portable(agent, names)) != config:
            return None
        agents.append(
            ServerAgent(
                id=agent.id,
                version=agent.current_version,
                config=config,
                handoff_ids=tuple(agent.handoff_targets),
            )
        )
    return ServerState(organization_id=organization_id, agents=tuple(agents))


def read_server(client: AgentsClient) -> ServerState:
    """The organization's agents, read consistently (see the module's docs)."""
    organization_id = client.auth.me().organization_id
    for _ in range(READ_ATTEMPTS):
        exported = client.agents.export()
        listed = list(client.agents.iterate(page_size=PAGE_SIZE))
        state = combine(organization_id, exported, listed)
        if state is not None:
            return state
    raise ServerChanging(
        "the organization's agents kept changing while agentsctl read them: try again"
    )
