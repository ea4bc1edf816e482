"""Which agents a release holds, at which versions: a pure function over values, tested without
a database. The release service reads the organization's active agents (share-locked), plans
with :func:`plan_members`, and inserts the plan.

Rules:

* Without a choice of agents, the release holds every active agent.
* With a choice, every chosen id must be an active agent of the organization (each one that is
  not is reported as ``agents[i]``); the release holds them and every agent reachable from them
  through handoff targets.
* Every member is pinned at its current version. Since the handoff targets read are those of
  the current versions, the release is closed under handoff: every target of a member, at its
  pinned version, is a member too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

import msgspec

from agents_core.errors import EmptyRelease, InvalidAgents
from agents_core.schemas import FieldError

__all__ = ["MAX_REPORTED_ERRORS", "AgentHead", "plan_members"]

MAX_REPORTED_ERRORS = 100


class AgentHead(msgspec.Struct, frozen=True):
    """What planning needs of an active agent: its current version and handoff targets (and
    its name, which the new release shows)."""

    id: UUID
    name: str
    current_version: int
    handoff_targets: list[UUID]


def plan_members(
    active: Mapping[UUID, AgentHead], chosen: Sequence[UUID] | None = None
) -> dict[UUID, int]:
    """The release's members (agent id → pinned version) from the organization's ``active``
    agents and the ``chosen`` ones (``None``: all of them), in the order they were reached.

    Raises :class:`InvalidAgents` naming each chosen id that is not active, and
    :class:`EmptyRelease` when there is nothing to release.
    """
    if chosen is None:
        if not active:
            raise EmptyRelease()
        return {agent.id: agent.current_version for agent in active.values()}

    bad = [(index, agent_id) for index, agent_id in enumerate(chosen) if agent_id not in active]
    if bad:
        shown = ", ".join(str(agent_id) for _, agent_id in bad[:10])
        more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise InvalidAgents(
            f"agents contains ids that are not active agents of this organization: {shown}{more}",
            errors=[
                FieldError(field=f"agents[{index}]", message=f"{agent_id} is not an active agent")
                for index, agent_id in bad[:MAX_REPORTED_ERRORS]
            ],
        )

    pinned: dict[UUID, int] = {}
    pending = list(chosen)
    while pending:
        agent_id = pending.pop()
        if agent_id in pinned:
            continue
        agent = active.get(agent_id)
        if agent is None:
            # An active agent handing off to an agent that is not active breaks the invariant
            # every write keeps: a release of it would not be closed.
            raise RuntimeError(f"handoff target {agent_id} is not an active agent")
        pinned[agent_id] = agent.current_version
        pending.extend(t for t in agent.handoff_targets if t not in pinned)
    return pinned
