"""Carrying a plan out through the SDK, step by step, keeping the lock true to the server.

The order keeps every handoff valid at every step, as the API demands:

1. **park**: agents holding a name another agent takes are renamed out of the way;
2. **create**: every new agent in one ``POST /agents/import``, which resolves handoff names
   within the batch (cycles included) and against existing agents, all or nothing; a new
   agent's handoff to an existing agent is sent under that agent's current name;
3. **update**: each changed agent, with ``If-Match``; handoffs to new agents now have ids;
4. **delete** (``prune``): after the updates, no remaining agent hands off to them; among
   themselves, referrers go first, and a cycle is broken by clearing one member's handoffs.

A failure stops the apply. What was done is in the lock (each step records its agent's new
version as it succeeds); the report lists the steps done and the steps not done. A step whose
outcome is unknown (the connection dropped, the server failed) is checked by reading the agent
again before it is reported either way.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from uuid import UUID

import msgspec

from agents_client.client import AgentsClient
from agents_client.ctl.lock import Lock, LockEntry, digests
from agents_client.ctl.plan import Create, Delete, NewAgent, Park, Plan, Target, Update, name_key
from agents_client.ctl.server import ServerChanging, read_server
from agents_client.errors import (
    AgentsError,
    APIConnectionError,
    APITimeoutError,
    NotFoundError,
    PreconditionFailedError,
    ServerError,
)
from agents_core.schemas import AgentExport, AgentPublic, AgentUpdate

__all__ = ["Applier", "ApplyFailed", "Step"]

UNCERTAIN: Final = (APIConnectionError, APITimeoutError, ServerError, PreconditionFailedError)
"""Errors after which a write may have been applied (a retried PUT that had gone through
answers 412)."""


@dataclass(frozen=True, slots=True)
class Step:
    description: str
    """What the step will do, e.g. ``update 'Support' (instructions)``."""
    run: Callable[[], str]
    """Does it; returns what was done, e.g. ``updated 'Support' (instructions) → version 4``."""


class ApplyFailed(Exception):
    """A step failed: ``done`` and ``not_done`` are the steps' descriptions, ``lock`` the lock
    as true to the server as known."""

    def __init__(
        self,
        message: str,
        *,
        failed: int,
        done: Sequence[str],
        not_done: Sequence[str],
        lock: Lock,
        uncertain: bool,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.failed = failed
        self.done = tuple(done)
        self.not_done = tuple(not_done)
        self.lock = lock
        self.uncertain = uncertain


class _StepError(Exception):
    def __init__(self, message: str, *, uncertain: bool = False) -> None:
        super().__init__(message)
        self.uncertain = uncertain


def _members(changes: Sequence[str]) -> str:
    return ", ".join(changes)


class Applier:
    """Applies one plan once: build it, then :meth:`run` it."""

    def __init__(
        self, client: AgentsClient, plan: Plan, *, describe: Callable[[AgentsError], str]
    ) -> None:
        self.client = client
        self.plan = plan
        self.describe = describe
        self.names: dict[UUID, str] = {a.id: a.config.name for a in plan.server.agents}
        self.versions: dict[UUID, int] = {a.id: a.version for a in plan.server.agents}
        self.configs: dict[UUID, AgentExport] = {a.id: a.config for a in plan.server.agents}
        self.handoffs: dict[UUID, tuple[UUID, ...]] = {
            a.id: a.handoff_ids for a in plan.server.agents
        }
        self.created: dict[str, UUID] = {}
        self.parked: set[UUID] = set()
        self.entries: dict[str, LockEntry] = dict(plan.lock)
        self.file_of: dict[UUID, str] = {u.agent_id: u.file for u in plan.updates}
        self.file_of.update({d.agent_id: d.file for d in plan.deletes if d.file is not None})
        for kept in plan.unchanged:
            self.record(kept.file, kept.agent.id, kept.agent.config, kept.agent.version)

    # -- the lock ---------------------------------------------------------------------------------

    def record(self, file: str, agent_id: UUID, config: AgentExport, version: int) -> None:
        for other in [f for f, e in self.entries.items() if e.id == agent_id and f != file]:
            del self.entries[other]
        self.entries[file] = LockEntry(
            id=agent_id, name=config.name, version=version, fields=digests(config)
        )

    def forget(self, agent_id: UUID) -> None:
        for file in [f for f, e in self.entries.items() if e.id == agent_id]:
            del self.entries[file]

    @property
    def lock(self) -> Lock:
        return Lock(
            organization_id=self.plan.server.organization_id,
            agents=dict(sorted(self.entries.items())),
        )

    # -- the steps --------------------------------------------------------------------------------

    def steps(self) -> list[Step]:
        plan = self.plan
        steps = [self.park_step(park) for park in plan.parks]
        if plan.creates:
            steps.append(self.create_step(plan.creates))
        steps.extend(self.update_step(update) for update in plan.updates)
        steps.extend(self.delete_steps(plan.deletes))
        return steps

    def run(self, progress: Callable[[str], None]) -> Lock:
        """Run every step, reporting each as it is done; raises :class:`ApplyFailed`."""
        steps = self.steps()
        total = len(steps)
        done: list[str] = []
        for index, step in enumerate(steps, start=1):
            try:
                outcome = step.run()
            except (_StepError, KeyboardInterrupt) as exc:
                uncertain = isinstance(exc, KeyboardInterrupt) or exc.uncertain
                message = "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
                raise ApplyFailed(
                    f"step {index} of {total} ({step.description}) failed: {message}",
                    failed=index,
                    done=done,
                    not_done=[s.description for s in steps[index - 1 :]],
                    lock=self.lock,
                    uncertain=uncertain,
                ) from None
            done.append(outcome)
            progress(f"[{index}/{total}] {outcome}")
        return self.lock

    def target_id(self, target: Target) -> UUID:
        if isinstance(target, NewAgent):
            return self.created[name_key(target.name)]
        return target

    def target_name(self, target: Target) -> str:
        return target.name if isinstance(target, NewAgent) else self.names[target]

    def state(self, config: AgentExport, handoff_ids: Sequence[UUID]) -> dict[str, Any]:
        """An agent's whole configuration as :class:`AgentPublic` holds it."""
        return msgspec.structs.asdict(config.config(list(handoff_ids)))

    def put(
        self, agent_id: UUID, changes: dict[str, Any], expected: int, result: dict[str, Any]
    ) -> AgentPublic:
        """One update with ``If-Match``. An uncertain failure is settled by reading the agent:
        when it holds exactly ``result`` (its whole configuration once updated), the update
        counts as done."""
        try:
            return self.client.agents.update(
                agent_id, AgentUpdate(**changes), expected_version=expected
            )
        except UNCERTAIN as exc:
            try:
                agent = self.client.agents.get(agent_id)
            except AgentsError:
                agent = None
            if agent is not None and all(getattr(agent, k) == v for k, v in result.items()):
                return agent
            name = self.names[agent_id]
            if isinstance(exc, PreconditionFailedError):
                raise _StepError(
                    f"{name!r} changed on the server during the apply (412 version_mismatch): "
                    "run agentsctl diff to see how"
                ) from None
            raise _StepError(
                f"{self.describe(exc)}; {name!r} was not changed"
                if agent is not None
                else f"{self.describe(exc)}; it is unknown whether {name!r} was changed",
                uncertain=agent is None,
            ) from None
        except AgentsError as exc:
            raise _StepError(self.describe(exc)) from None

    def park_step(self, park: Park) -> Step:
        def run() -> str:
            config = msgspec.structs.replace(self.configs[park.agent_id], name=park.temporary)
            result = self.state(config, self.handoffs[park.agent_id])
            agent = self.put(park.agent_id, {"name": park.temporary}, park.expected_version, result)
            self.parked.add(park.agent_id)
            self.names[park.agent_id] = agent.name
            self.versions[park.agent_id] = agent.current_version
            file = self.file_of.get(park.agent_id)
            if file is not None:
                self.record(file, park.agent_id, config, agent.current_version)
            return f"parked {park.name!r} as {park.temporary!r} (its name is taken next)"

        return Step(f"park {park.name!r} as {park.temporary!r}", run)

    def create_step(self, creates: Sequence[Create]) -> Step:
        names = ", ".join(repr(c.config.name) for c in creates)
        count = f"{len(creates)} agent{'s' if len(creates) != 1 else ''}"

        def run() -> str:
            batch = [
                msgspec.structs.replace(
                    c.config, handoff_targets=[self.target_name(t) for t in c.targets]
                )
                for c in creates
            ]
            try:
                result = self.client.agents.import_agents(batch)
            except (APIConnectionError, APITimeoutError, ServerError) as exc:
                self.settle_creates(creates)
                missing = [c for c in creates if name_key(c.config.name) not in self.created]
                if not missing:
                    return f"created {count}: {names}"
                raise _StepError(
                    f"{self.describe(exc)}; it is unknown whether the agents were created",
                    uncertain=True,
                ) from None
            except AgentsError as exc:
                raise _StepError(self.describe(exc)) from None
            for agent in result.agents:
                self.created[name_key(agent.name)] = agent.id
                self.names[agent.id] = agent.name
                self.versions[agent.id] = agent.current_version
            skipped: list[str] = []
            for c in creates:
                agent_id = self.created.get(name_key(c.config.name))
                if agent_id is None:
                    skipped.append(c.config.name)
                else:
                    self.record(c.file, agent_id, c.config, self.versions[agent_id])
            if skipped:
                raise _StepError(
                    "the server skipped "
                    + ", ".join(repr(n) for n in skipped)
                    + ": an agent of that name was created on the server during the apply "
                    "(the others were created)"
                )
            return f"created {count}: {names}"

        return Step(f"create {count}: {names}", run)

    def settle_creates(self, creates: Sequence[Create]) -> None:
        """After an import whose answer was lost: record the new agents the server has."""
        try:
            state = read_server(self.client)
        except (AgentsError, ServerChanging):
            return  # the report says the outcome is unknown
        by_key = {name_key(a.config.name): a for a in state.agents}
        for c in creates:
            found = by_key.get(name_key(c.config.name))
            if found is not None and digests(found.config) == digests(c.config):
                self.created[name_key(c.config.name)] = found.id
                self.names[found.id] = found.config.name
                self.versions[found.id] = found.version
                self.record(c.file, found.id, c.config, found.version)

    def update_step(self, update: Update) -> Step:
        members = [c.member for c in update.changes]
        if update.agent_id in {p.agent_id for p in self.plan.parks} and "name" not in members:
            members.insert(0, "name")
        description = f"update {update.name!r} ({_members(members)})"

        def run() -> str:
            changes: dict[str, Any] = {}
            for member in members:
                if member == "handoff_targets":
                    changes[member] = [self.target_id(t) for t in update.targets]
                else:
                    changes[member] = getattr(update.config, member)
            parked = update.agent_id in self.parked
            expected = self.versions[update.agent_id] if parked else update.expected_version
            targets = [self.target_id(t) for t in update.targets]
            result = self.state(update.config, targets)
            agent = self.put(update.agent_id, changes, expected, result)
            self.names[update.agent_id] = agent.name
            self.versions[update.agent_id] = agent.current_version
            self.record(update.file, update.agent_id, update.config, agent.current_version)
            return f"updated {agent.name!r} ({_members(members)}) → version {agent.current_version}"

        return Step(description, run)

    def delete_steps(self, deletes: Sequence[Delete]) -> list[Step]:
        """Deletes in an order the API accepts: an agent only once nothing left hands off to
        it (by name among those free); when only cycles are left, one member's handoffs are
        cleared first."""
        remaining = {d.agent_id: d for d in deletes}
        outgoing = {d.agent_id: set(d.agent.handoff_ids) & remaining.keys() for d in deletes}
        incoming: dict[UUID, set[UUID]] = {agent_id: set() for agent_id in remaining}
        for source, targets in outgoing.items():
            for target in targets:
                incoming[target].add(source)
        free = [(name_key(d.name), d.agent_id) for d in deletes if not incoming[d.agent_id]]
        heapq.heapify(free)

        def drop_edges(source: UUID) -> None:
            for target in outgoing[source]:
                incoming[target].discard(source)
                if not incoming[target] and target in remaining:
                    heapq.heappush(free, (name_key(remaining[target].name), target))
            outgoing[source] = set()

        steps: list[Step] = []
        while remaining:
            if not free:
                stuck = min(
                    (d for d in remaining.values() if outgoing[d.agent_id]),
                    key=lambda d: name_key(d.name),
                )
                steps.append(self.clear_step(stuck))
                drop_edges(stuck.agent_id)
                continue
            _, agent_id = heapq.heappop(free)
            steps.append(self.delete_step(remaining.pop(agent_id)))
            drop_edges(agent_id)
        return steps

    def clear_step(self, delete: Delete) -> Step:
        def run() -> str:
            config = msgspec.structs.replace(
                self.configs[delete.agent_id],
                name=self.names[delete.agent_id],
                handoff_targets=[],
            )
            expected = self.versions[delete.agent_id]
            agent = self.put(
                delete.agent_id, {"handoff_targets": []}, expected, self.state(config, [])
            )
            self.versions[delete.agent_id] = agent.current_version
            if delete.file is not None:
                self.record(delete.file, delete.agent_id, config, agent.current_version)
            return f"cleared the handoffs of {delete.name!r} (a cycle among agents to delete)"

        return Step(f"clear the handoffs of {delete.name!r}", run)

    def delete_step(self, delete: Delete) -> Step:
        def run() -> str:
            try:
                self.client.agents.delete(delete.agent_id)
            except NotFoundError:
                pass  # already gone: a retried DELETE whose first attempt went through
            except AgentsError as exc:
                raise _StepError(self.describe(exc), uncertain=isinstance(exc, UNCERTAIN)) from None
            self.forget(delete.agent_id)
            return f"deleted {delete.name!r}"

        return Step(f"delete {delete.name!r}", run)
