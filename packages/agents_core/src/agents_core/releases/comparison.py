"""What one release changes against another: a pure function over values, tested without a
database. The release service reads both releases' members and the configurations of the agents
pinned at different versions in each, then compares with :func:`compare_releases`."""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from agents_core.schemas import AgentConfig, ReleaseAgentChange, ReleaseChange, ReleaseDiff

__all__ = ["MemberPin", "compare_releases", "pinned_differently"]

MemberPin = tuple[str, int]
"""A member's name at its pinned version, and that version."""


def pinned_differently(
    base: Mapping[UUID, MemberPin], release: Mapping[UUID, MemberPin]
) -> list[UUID]:
    """The agents in both releases at different versions: the ones whose configurations the
    comparison needs."""
    return sorted(
        agent_id
        for agent_id, (_, version) in release.items()
        if agent_id in base and base[agent_id][1] != version
    )


def compare_releases(
    base_number: int,
    number: int,
    base: Mapping[UUID, MemberPin],
    release: Mapping[UUID, MemberPin],
    configs: Mapping[tuple[UUID, int], AgentConfig],
) -> ReleaseDiff:
    """``release`` against ``base`` (members by agent id), by agent ordered by name.

    ``configs`` holds the configuration of every agent of :func:`pinned_differently` at both
    its versions, keyed by ``(agent_id, version)``.
    """
    changes = [
        change
        for agent_id in release.keys() | base.keys()
        if (change := _change(agent_id, base.get(agent_id), release.get(agent_id), configs))
    ]
    changes.sort(key=lambda change: (change.name.lower(), str(change.agent_id)))
    return ReleaseDiff(base=base_number, release=number, agents=changes)


def _change(
    agent_id: UUID,
    before: MemberPin | None,
    after: MemberPin | None,
    configs: Mapping[tuple[UUID, int], AgentConfig],
) -> ReleaseAgentChange | None:
    """What became of one agent: added, removed, or changed (``None`` when pinned at the same
    version in both); it is named as the release (else the base) names it."""
    base_version = None if before is None else before[1]
    version = None if after is None else after[1]
    if base_version == version:
        return None
    fields: list[str] = []
    if base_version is None:
        change = ReleaseChange.ADDED
    elif version is None:
        change = ReleaseChange.REMOVED
    else:
        change = ReleaseChange.CHANGED
        fields = configs[(agent_id, base_version)].differing_fields(configs[(agent_id, version)])
    named = after or before
    assert named is not None, "the agent is a member of one release at least"
    return ReleaseAgentChange(
        agent_id=agent_id,
        name=named[0],
        change=change,
        base_version=base_version,
        version=version,
        fields=fields,
    )
