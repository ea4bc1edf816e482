"""What an environment serves, against a directory of agent files (``agentsctl status DIR``).

An environment serves a release: each member agent pinned at a version. Its configurations are
read one by one (``GET /releases/{n}/agents/{id}``, open to members), their handoff targets
turned into the names the release pins, and compared with the files member by member, as
``diff`` compares files with the server's agents.

A file stands for the member the lock names (when the lock is this organization's), else for
the member of the same name (ignoring case). The comparison is about the release the
environment serves to every call without a canary; the canary release is not compared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from agents_client.client import AgentsClient
from agents_client.ctl.agent_files import MEMBERS, LocalAgent, normalized
from agents_client.ctl.lock import LockEntry, digests
from agents_client.ctl.plan import name_key
from agents_client.ctl.server import ServerAgent
from agents_core.schemas import AgentExport, Environment, Release

__all__ = ["Mismatch", "MismatchKind", "Served", "compare_served", "read_served"]


@dataclass(frozen=True, slots=True)
class Served:
    environment: Environment
    release: Release
    agents: tuple[ServerAgent, ...]
    """In the release's order (by name)."""


class MismatchKind(StrEnum):
    CHANGED = "changed"
    """A file and the member it stands for differ."""
    NOT_RELEASED = "not_released"
    """A file stands for no member of the release."""
    NO_FILE = "no_file"
    """A member of the release has no file."""


@dataclass(frozen=True, slots=True)
class Mismatch:
    kind: MismatchKind
    name: str
    """The file's agent name (the member's, for ``no_file``)."""
    file: str | None = None
    version: int | None = None
    """The member's version in the release."""
    members: tuple[str, ...] = ()
    """For ``changed``: the configuration members that differ."""


def read_served(client: AgentsClient, environment: Environment) -> Served:
    """The release ``environment`` serves, with each member's configuration as pinned."""
    release = client.releases.get(environment.release)
    names = {member.agent_id: member.name for member in release.agents}
    agents = []
    for member in release.agents:
        pinned = client.releases.agent(release.number, member.agent_id)
        agents.append(
            ServerAgent(
                id=member.agent_id,
                version=member.version,
                # Normalized, handoff targets by their names in the release.
                config=normalized(AgentExport.of(pinned, names)),
                handoff_ids=tuple(pinned.handoff_targets),
            )
        )
    return Served(environment=environment, release=release, agents=tuple(agents))


def compare_served(
    local: Sequence[LocalAgent], entries: Mapping[str, LockEntry], served: Served
) -> list[Mismatch]:
    """Every difference between the files and the served release: files first (by file name),
    then members without a file (by name). ``entries`` are the lock's, for this organization."""
    by_id = {agent.id: agent for agent in served.agents}
    claimed: dict[str, ServerAgent] = {}
    for agent in local:
        entry = entries.get(agent.file)
        if entry is not None and entry.id in by_id:
            claimed[agent.file] = by_id.pop(entry.id)
    by_key = {name_key(agent.config.name): agent for agent in by_id.values()}
    for agent in local:
        if agent.file not in claimed:
            found = by_key.pop(name_key(agent.config.name), None)
            if found is not None:
                del by_id[found.id]
                claimed[agent.file] = found

    mismatches: list[Mismatch] = []
    for agent in sorted(local, key=lambda a: a.file):
        member = claimed.get(agent.file)
        if member is None:
            mismatches.append(
                Mismatch(MismatchKind.NOT_RELEASED, name=agent.config.name, file=agent.file)
            )
            continue
        mine, theirs = digests(agent.config), digests(member.config)
        differing = tuple(m for m in MEMBERS if mine[m] != theirs[m])
        if differing:
            mismatches.append(
                Mismatch(
                    MismatchKind.CHANGED,
                    name=agent.config.name,
                    file=agent.file,
                    version=member.version,
                    members=differing,
                )
            )
    for unclaimed in by_id.values():
        mismatches.append(
            Mismatch(MismatchKind.NO_FILE, name=unclaimed.config.name, version=unclaimed.version)
        )
    return mismatches
