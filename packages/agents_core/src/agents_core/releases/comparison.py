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
    changes: list[ReleaseAgentChange] = []
    for agent_id, (name, version) in release.items():
        if agent_id not in base:
            changes.append(
                ReleaseAgentChange(
                    agent_id=agent_id,
                    name=name,
                    change=ReleaseChange.ADDED,
                    base_version=None,
                    version=version,
                    fields=[],
                )
            )
            continue
        base_version = base[agent_id][1]
        if base_version == version:
            continue
        fields = configs[(agent_id, base_version)].differing_fields(configs[(agent_id, version)])
        changes.append(
            ReleaseAgentChange(
                agent_id=agent_id,
                name=name,
                change=ReleaseChange.CHANGED,
                base_version=base_version,
                version=version,
                fields=fields,
            )
        )
    for agent_id, (name, base_version) in base.items():
        if agent_id not in release:
            changes.append(
                ReleaseAgentChange(
                    agent_id=agent_id,
                    name=name,
                    change=ReleaseChange.REMOVED,
                    base_version=base_version,
                    version=None,
                    fields=[],
                )
            )
    changes.sort(key=lambda change: (change.name.lower(), str(change.agent_id)))
    return ReleaseDiff(base=base_number, release=number, agents=changes)
