"""The plan: what ``apply`` would change on the server to make it match the files.

A pure function of three values — the agent files, the lock and the server's agents — so it is
tested without a server, and ``diff`` and ``apply`` show and do exactly the same thing.

**Which agent a file stands for.** The lock maps a file to an agent id: that agent, when the
server still has it (so editing ``name`` in a file renames the agent). A file the lock does not
know — new, renamed on disk, or pulled from another organization — stands for the active agent
of the same name (compared ignoring case, as the API does), when no other file claims it; for a
new agent otherwise. A file renamed on disk keeps the lock's base of its agent.

**Conflicts.** Writing over a change made on the server since the files were based on it is a
conflict: an agent the lock knows at another version than the server's (the file would undo
that change), an agent of a file's name that appeared on the server since the pull (the lock is
this organization's and does not know it), a file whose agent was deleted on the server, and,
with ``prune``, deleting an agent that changed since the pull or that the files never held. A
conflict blocks the whole apply unless ``force``. Agents whose file already matches the server
are unchanged, whatever their version.

**Names.** A name a file wants may be held by another agent that is itself being renamed or
deleted; that agent is first *parked* under a temporary name so every later step finds the
name free.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import msgspec

from agents_client.ctl.agent_files import MEMBERS, FileProblem, LocalAgent
from agents_client.ctl.lock import Lock, LockEntry, digests
from agents_client.ctl.server import ServerAgent, ServerState
from agents_core.schemas import AgentExport

__all__ = [
    "Conflict",
    "Create",
    "Delete",
    "FieldChange",
    "Kept",
    "NewAgent",
    "OnServer",
    "Park",
    "Plan",
    "PlanError",
    "Target",
    "Unchanged",
    "Update",
    "make_plan",
    "name_key",
    "temporary_name",
    "unapplied_changes",
]

MAX_NAME_LENGTH: Final = 255


def name_key(name: str) -> str:
    """Agent names are unique among active agents ignoring case (the API's index is on
    ``lower(name)``)."""
    return name.lower()


@dataclass(frozen=True, slots=True)
class NewAgent:
    """A handoff target the plan creates: it has a name, and an id only once created."""

    name: str


Target = UUID | NewAgent


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One member that differs: its server value and its file value (plain values; handoff
    targets as names)."""

    member: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Create:
    """A file's agent to create (or, as an :class:`Update`, to change)."""

    file: str
    config: AgentExport
    targets: tuple[Target, ...]


@dataclass(frozen=True, slots=True)
class Update(Create):
    agent_id: UUID
    name: str
    """The agent's name on the server now."""
    version: int
    """The server's version, as read."""
    expected_version: int
    """Sent as ``If-Match``: the lock's version (the server's for an agent the lock does not
    know, or when ``force`` writes over a conflict)."""
    changes: tuple[FieldChange, ...]
    forced: bool = False


@dataclass(frozen=True, slots=True)
class OnServer:
    """A step about an agent the server has: the agent as read."""

    agent: ServerAgent

    @property
    def agent_id(self) -> UUID:
        return self.agent.id

    @property
    def name(self) -> str:
        """The agent's name on the server now."""
        return self.agent.config.name

    @property
    def version(self) -> int:
        """The server's version, as read."""
        return self.agent.version


@dataclass(frozen=True, slots=True)
class Delete(OnServer):
    file: str | None
    """The file the lock knew it by (removed since)."""
    forced: bool = False


@dataclass(frozen=True, slots=True)
class Park(OnServer):
    """Rename an agent out of the way before another takes its name."""

    temporary: str
    expected_version: int


@dataclass(frozen=True, slots=True)
class Unchanged(OnServer):
    file: str


@dataclass(frozen=True, slots=True)
class Kept(OnServer):
    """An agent on the server that no file stands for, left alone without ``prune``."""

    file: str | None
    """The file the lock knew it by, when its file was removed."""


@dataclass(frozen=True, slots=True)
class Conflict:
    name: str
    file: str | None
    agent_id: UUID | None
    reason: str
    base_version: int | None = None
    server_version: int | None = None
    server_members: tuple[str, ...] = ()
    """Members the server changed since the lock's version."""
    local_members: tuple[str, ...] = ()
    """Members the file changed since the lock's version."""
    differing: tuple[str, ...] = ()
    """Members where the file and the server differ now."""


@dataclass(frozen=True, slots=True)
class Plan:
    server: ServerState
    lock: Mapping[str, LockEntry]
    """The lock's entries when it is this organization's, else none."""
    creates: tuple[Create, ...] = ()
    updates: tuple[Update, ...] = ()
    deletes: tuple[Delete, ...] = ()
    parks: tuple[Park, ...] = ()
    unchanged: tuple[Unchanged, ...] = ()
    kept: tuple[Kept, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    lock_ignored: bool = False
    """The lock belongs to another organization: files were matched by name."""

    @property
    def has_changes(self) -> bool:
        return bool(self.creates or self.updates or self.deletes)

    @property
    def in_sync(self) -> bool:
        """The files and the server hold the same agents."""
        return not (self.has_changes or self.conflicts or self.kept)


class PlanError(Exception):
    """The files cannot be applied as they are; nothing was written."""

    def __init__(self, problems: Sequence[FileProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


def temporary_name(name: str, agent_id: UUID, taken: Iterable[str]) -> str:
    """A name to park an agent under: its name and a piece of its id, unused by anyone."""
    used = {name_key(n) for n in taken}
    for digits in (8, 32):
        suffix = f" (agentsctl {agent_id.hex[:digits]})"
        candidate = name[: MAX_NAME_LENGTH - len(suffix)] + suffix
        if name_key(candidate) not in used:
            return candidate
    raise ValueError(f"no free temporary name for agent {agent_id}")


def _values(config: AgentExport) -> dict[str, Any]:
    values: dict[str, Any] = msgspec.to_builtins(config)
    return values


def _changes(
    desired: AgentExport, targets: tuple[Target, ...], agent: ServerAgent
) -> tuple[FieldChange, ...]:
    after, before = _values(desired), _values(agent.config)
    found: list[FieldChange] = []
    for member in MEMBERS:
        if member == "handoff_targets":
            # Compared as agents, not names: a target renamed on both sides is the same target.
            same = targets == agent.handoff_ids
        else:
            same = after[member] == before[member]
        if not same:
            found.append(FieldChange(member, before[member], after[member]))
    return tuple(found)


def _differ(left: Mapping[str, str], right: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(m for m in MEMBERS if left.get(m) != right.get(m))


class _Planner:
    def __init__(
        self,
        local: Sequence[LocalAgent],
        lock: Lock,
        server: ServerState,
        *,
        prune: bool,
        force: bool,
    ) -> None:
        self.local = sorted(local, key=lambda a: a.file)
        self.server = server
        self.prune = prune
        self.force = force
        self.has_lock = lock.organization_id == server.organization_id
        self.entries: Mapping[str, LockEntry] = lock.for_organization(server.organization_id)
        self.lock_ignored = bool(lock.agents) and not self.has_lock
        self.by_id = {a.id: a for a in server.agents}
        self.by_key = {name_key(a.config.name): a for a in server.agents}
        self.file_of_id = {entry.id: file for file, entry in self.entries.items()}
        self.problems: list[FileProblem] = []
        self.claimed: dict[str, ServerAgent] = {}
        self.base: dict[str, LockEntry] = {}
        self.vanished: set[str] = set()

    def problem(self, agent: LocalAgent, member: str, message: str) -> None:
        self.problems.append(FileProblem(agent.path, agent.line_of(member), message))

    def check_unique_names(self) -> None:
        first: dict[str, LocalAgent] = {}
        for agent in self.local:
            other = first.setdefault(name_key(agent.config.name), agent)
            if other is not agent:
                self.problem(
                    agent,
                    "name",
                    f"the name {agent.config.name!r} is also the name in {other.path} "
                    "(agent names are unique, ignoring case)",
                )

    def match(self) -> None:
        taken: set[UUID] = set()
        for agent in self.local:
            entry = self.entries.get(agent.file)
            if entry is None:
                continue
            found = self.by_id.get(entry.id)
            if found is None:
                self.vanished.add(agent.file)
            elif found.id not in taken:
                self.claimed[agent.file] = found
                self.base[agent.file] = entry
                taken.add(found.id)
        for agent in self.local:
            if agent.file in self.claimed:
                continue
            found = self.by_key.get(name_key(agent.config.name))
            if found is None or found.id in taken:
                continue
            self.claimed[agent.file] = found
            taken.add(found.id)
            moved_from = self.file_of_id.get(found.id)
            if moved_from is not None:
                self.base[agent.file] = self.entries[moved_from]

    @property
    def unclaimed(self) -> list[ServerAgent]:
        claimed = {a.id for a in self.claimed.values()}
        return [a for a in self.server.agents if a.id not in claimed]

    def holders(self) -> dict[str, Target]:
        """Who holds each name once the plan is applied."""
        held: dict[str, Target] = {}
        for agent in self.local:
            found = self.claimed.get(agent.file)
            held.setdefault(
                name_key(agent.config.name), found.id if found else NewAgent(agent.config.name)
            )
        if not self.prune:
            for other in self.unclaimed:
                held.setdefault(name_key(other.config.name), other.id)
        return held

    def check_handoffs(self, held: Mapping[str, Target]) -> None:
        pruned = {name_key(a.config.name) for a in self.unclaimed} if self.prune else set()
        for agent in self.local:
            own = name_key(agent.config.name)
            for index, target in enumerate(agent.config.handoff_targets or ()):
                member = f"handoff_targets[{index}]"
                key = name_key(target)
                if key == own:
                    self.problem(agent, member, "an agent cannot hand off to itself")
                elif key in held:
                    continue
                elif key in pruned:
                    self.problem(
                        agent,
                        member,
                        f"hands off to {target!r}, which has no file here: --prune would delete "
                        "it while this agent hands off to it",
                    )
                else:
                    where = (
                        "no file here" if self.prune else "no file here and no agent on the server"
                    )
                    self.problem(agent, member, f"hands off to {target!r}: {where} has that name")

    def check_names_free(self) -> None:
        """A name a file wants, held on the server by an agent no file stands for, that stays."""
        if self.prune:
            return
        claimed = {a.id for a in self.claimed.values()}
        for agent in self.local:
            holder = self.by_key.get(name_key(agent.config.name))
            mine = self.claimed.get(agent.file)
            if holder is None or holder.id in claimed or (mine and mine.id == holder.id):
                continue
            self.problem(
                agent,
                "name",
                f"the name {agent.config.name!r} is held on the server by an agent that no file "
                "here stands for: rename one of them, or apply with --prune to delete that agent",
            )

    def conflict_reason(self, agent: LocalAgent, found: ServerAgent) -> str | None:
        entry = self.base.get(agent.file)
        if entry is not None:
            if entry.version != found.version:
                return (
                    f"changed on the server since it was pulled (version {entry.version} → "
                    f"{found.version})"
                )
            return None
        if agent.file in self.vanished:
            return (
                "the agent this file was pulled from was deleted on the server, and another "
                "agent of this name was created since"
            )
        if self.has_lock:
            return "an agent of this name was created on the server since the pull"
        return None

    def plan(self) -> Plan:
        self.check_unique_names()
        self.match()
        held = self.holders()
        self.check_handoffs(held)
        self.check_names_free()
        if self.problems:
            raise PlanError(self.problems)

        creates: list[Create] = []
        updates: list[Update] = []
        unchanged: list[Unchanged] = []
        conflicts: list[Conflict] = []
        for agent in self.local:
            desired = agent.config
            targets = tuple(held[name_key(t)] for t in desired.handoff_targets or ())
            found = self.claimed.get(agent.file)
            if found is None:
                if agent.file in self.vanished and not self.force:
                    gone = self.entries[agent.file]
                    conflicts.append(
                        Conflict(
                            name=desired.name,
                            file=agent.file,
                            agent_id=gone.id,
                            reason="deleted on the server since it was pulled",
                            base_version=gone.version,
                        )
                    )
                else:
                    creates.append(Create(agent.file, desired, targets))
                continue
            changes = _changes(desired, targets, found)
            if not changes:
                unchanged.append(Unchanged(found, agent.file))
                continue
            reason = self.conflict_reason(agent, found)
            entry: LockEntry | None = self.base.get(agent.file)
            if reason is not None and not self.force:
                conflicts.append(
                    Conflict(
                        name=found.config.name,
                        file=agent.file,
                        agent_id=found.id,
                        reason=reason,
                        base_version=entry.version if entry else None,
                        server_version=found.version,
                        server_members=_differ(digests(found.config), entry.fields)
                        if entry
                        else (),
                        local_members=_differ(digests(desired), entry.fields) if entry else (),
                        differing=tuple(c.member for c in changes),
                    )
                )
                continue
            updates.append(
                Update(
                    file=agent.file,
                    agent_id=found.id,
                    name=found.config.name,
                    version=found.version,
                    expected_version=(
                        entry.version if entry is not None and reason is None else found.version
                    ),
                    changes=changes,
                    config=desired,
                    targets=targets,
                    forced=reason is not None,
                )
            )

        deletes: list[Delete] = []
        kept: list[Kept] = []
        for other in self.unclaimed:
            name = other.config.name
            removed = self.file_of_id.get(other.id)
            if not self.prune:
                kept.append(Kept(other, removed))
                continue
            pulled = self.entries.get(removed) if removed is not None else None
            why: str | None = None
            if pulled is None:
                why = "on the server but never pulled into these files"
            elif pulled.version != other.version:
                why = (
                    f"changed on the server since it was pulled (version {pulled.version} → "
                    f"{other.version})"
                )
            if why is not None and not self.force:
                conflicts.append(
                    Conflict(
                        name=name,
                        file=removed,
                        agent_id=other.id,
                        reason=why + "; --prune would delete it",
                        base_version=pulled.version if pulled else None,
                        server_version=other.version,
                        server_members=_differ(digests(other.config), pulled.fields)
                        if pulled
                        else (),
                    )
                )
                continue
            deletes.append(Delete(other, removed, why is not None))

        return Plan(
            server=self.server,
            lock=self.entries,
            creates=tuple(creates),
            updates=tuple(updates),
            deletes=tuple(sorted(deletes, key=lambda d: name_key(d.name))),
            parks=self.parks(creates, updates, deletes),
            unchanged=tuple(unchanged),
            kept=tuple(kept),
            conflicts=tuple(sorted(conflicts, key=lambda c: name_key(c.name))),
            lock_ignored=self.lock_ignored,
        )

    def parks(
        self, creates: Sequence[Create], updates: Sequence[Update], deletes: Sequence[Delete]
    ) -> tuple[Park, ...]:
        """Agents to rename out of the way: those holding a name that another agent takes."""
        moving = {u.agent_id: u.expected_version for u in updates}
        moving.update({d.agent_id: d.version for d in deletes})
        wanted = {name_key(c.config.name) for c in creates}
        wanted.update(
            name_key(u.config.name) for u in updates if name_key(u.name) != name_key(u.config.name)
        )
        every_name = [a.config.name for a in self.server.agents] + [
            a.config.name for a in self.local
        ]
        parks: list[Park] = []
        for agent in self.server.agents:
            if agent.id in moving and name_key(agent.config.name) in wanted:
                temporary = temporary_name(agent.config.name, agent.id, every_name)
                every_name.append(temporary)
                parks.append(Park(agent, temporary, moving[agent.id]))
        return tuple(parks)


def make_plan(
    local: Sequence[LocalAgent],
    lock: Lock,
    server: ServerState,
    *,
    prune: bool = False,
    force: bool = False,
) -> Plan:
    """The plan that makes the server hold the agents of ``local`` (see the module's docs).
    Raises :class:`PlanError` naming every file and line that cannot be applied."""
    return _Planner(local, lock, server, prune=prune, force=force).plan()


def unapplied_changes(
    local: Sequence[LocalAgent], lock: Lock, server: ServerState
) -> list[tuple[str, str]]:
    """What replacing the files with the server's agents would lose, as ``(file, what)``: a
    file that differs from the server and from the lock's base too (changed here), a file for
    an agent the server does not have, a file the lock knows that was removed while its agent
    is still on the server. A file equal to the server's agent loses nothing, nor does one the
    server changed while the file stayed as pulled."""
    entries = lock.for_organization(server.organization_id)
    by_id = {a.id: a for a in server.agents}
    by_key = {name_key(a.config.name): a for a in server.agents}
    lost: list[tuple[str, str]] = []
    present = {agent.file for agent in local}
    for agent in sorted(local, key=lambda a: a.file):
        entry = entries.get(agent.file)
        found = by_id.get(entry.id) if entry else by_key.get(name_key(agent.config.name))
        mine = digests(agent.config)
        if found is not None and mine == digests(found.config):
            continue
        if entry is not None and mine == entry.fields:
            continue
        if entry is not None:
            lost.append((agent.file, "changed here: " + ", ".join(_differ(mine, entry.fields))))
        elif found is None:
            lost.append((agent.file, "a new agent, not on the server"))
        else:
            theirs = digests(found.config)
            lost.append(
                (agent.file, "differs from the server: " + ", ".join(_differ(mine, theirs)))
            )
    for file, entry in sorted(entries.items()):
        if file not in present and entry.id in by_id:
            lost.append((file, f"removed here, while {entry.name!r} is still on the server"))
    return lost
