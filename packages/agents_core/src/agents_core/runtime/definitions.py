"""What the catalog hands a worker: frozen, resolved agent definitions and handoff graphs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from uuid import UUID

import msgspec

from agents_core.schemas import AgentConfig

__all__ = ["AgentDefinition", "AgentGraph", "CatalogChange", "Handoff"]


class Handoff(msgspec.Struct, frozen=True, kw_only=True):
    """An agent this one can hand the call to."""

    agent_id: UUID
    name: str


# msgspec freezes a subclass of a mutable Struct; mypy's dataclass model does not know it can.
class AgentDefinition(AgentConfig, frozen=True):  # type: ignore[misc]
    """An agent's configuration as a worker runs it, at one version.

    ``handoff_targets`` and ``handoffs`` list the same agents, in the configuration's order.
    For the working configuration (``release`` is ``None``), ``handoffs`` names each target as
    it is named now (a target deleted since the version was saved is left out of both: nobody
    could take the call). For a released agent (``release`` is the release's number), each is
    named as pinned in that release, which holds every target. Frozen: the catalog shares one
    instance between every caller, who must not change its lists either.
    """

    id: UUID
    organization_id: UUID
    version: int
    handoffs: tuple[Handoff, ...]
    release: int | None = None


@dataclass(frozen=True, slots=True)
class AgentGraph:
    """An entry agent and every agent reachable from it through handoffs (cycles allowed).

    ``agents`` maps each agent's id to its definition, the entry agent first, the others by
    name. Every handoff target of an agent in the graph is itself in the graph. ``release`` is
    the release the graph was resolved from (through an environment), ``None`` for the working
    configuration.
    """

    entry: AgentDefinition
    agents: Mapping[UUID, AgentDefinition]
    release: int | None = None

    def __len__(self) -> int:
        return len(self.agents)

    def __iter__(self) -> Iterator[AgentDefinition]:
        return iter(self.agents.values())

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self.agents

    def __getitem__(self, agent_id: UUID) -> AgentDefinition:
        return self.agents[agent_id]


class CatalogChange(msgspec.Struct, frozen=True, kw_only=True):
    """What a catalog's subscribers hear: one agent changed (``agent_id``, at ``version``), an
    environment moved or was deleted (``environment``, at revision ``version``), or (neither)
    anything may have changed, after the catalog lost track of the feed for a while."""

    organization_id: UUID | None
    agent_id: UUID | None
    version: int | None
    environment: str | None = None

    @property
    def is_reset(self) -> bool:
        return self.agent_id is None and self.environment is None
