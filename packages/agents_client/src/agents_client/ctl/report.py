"""Plans, problems, releases, environments and outcomes as the text ``agentsctl`` prints
(pure: lines from values)."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import msgspec

from agents_client.ctl.agent_files import FileProblem
from agents_client.ctl.plan import Conflict, FieldChange, Plan, Update
from agents_client.ctl.served import Mismatch, MismatchKind, Served
from agents_core.schemas import Environment, Release

__all__ = [
    "count",
    "render_move",
    "render_plan",
    "render_problems",
    "render_release",
    "render_served",
    "render_status",
    "render_steps",
    "serves",
    "summary",
]

INDENT = "    "


def count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _value(value: Any) -> str:
    return msgspec.json.encode(value).decode()


def _instructions_diff(change: FieldChange, update: Update) -> list[str]:
    before, after = str(change.before), str(change.after)
    lines = list(
        difflib.unified_diff(
            before.splitlines(),
            after.splitlines(),
            fromfile=f"{update.name} on the server (version {update.version})",
            tofile=update.file,
            lineterm="",
        )
    )
    if not lines:  # only the line breaks at the end differ
        return [f"{INDENT}instructions: {_value(before)} → {_value(after)}"]
    return [f"{INDENT}instructions:"] + [f"{INDENT}  {line}" for line in lines]


def _update_lines(update: Update) -> list[str]:
    forced = " — over changes made on the server (--force)" if update.forced else ""
    lines = [f"~ update   {update.file}: {update.name!r} (version {update.version}){forced}"]
    for change in update.changes:
        if change.member == "instructions":
            lines.extend(_instructions_diff(change, update))
        else:
            lines.append(
                f"{INDENT}{change.member}: {_value(change.before)} → {_value(change.after)}"
            )
    return lines


def _conflict_lines(conflict: Conflict) -> list[str]:
    where = f"{conflict.file}: " if conflict.file else ""
    lines = [f"! conflict {where}{conflict.name!r} {conflict.reason}"]
    if conflict.server_members or conflict.local_members:
        there = ", ".join(conflict.server_members) or "nothing"
        here = ", ".join(conflict.local_members) or "nothing"
        lines.append(f"{INDENT}changed on the server: {there}; changed in the file: {here}")
    elif conflict.differing:
        lines.append(f"{INDENT}the file and the server differ in: {', '.join(conflict.differing)}")
    return lines


def summary(plan: Plan) -> str:
    parts = [
        f"{len(plan.creates)} to create",
        f"{len(plan.updates)} to update",
        f"{len(plan.deletes)} to delete",
    ]
    if plan.conflicts:
        parts.append(count(len(plan.conflicts), "conflict"))
    if plan.kept:
        parts.append(f"{len(plan.kept)} on the server only")
    parts.append(f"{len(plan.unchanged)} unchanged")
    return "Plan: " + ", ".join(parts) + "."


def render_plan(plan: Plan, *, directory: str, url: str) -> list[str]:
    lines = [f"{directory} against {url} (organization {plan.server.organization_id}):"]
    if plan.lock_ignored:
        lines.append(
            "note: agents.lock belongs to another organization: files are matched to agents by name"
        )
    for create in plan.creates:
        config = create.config
        lines.append(f"+ create   {create.file}: {config.name!r}")
        if config.handoff_targets:
            lines.append(f"{INDENT}hands off to: {', '.join(config.handoff_targets)}")
    for update in plan.updates:
        lines.extend(_update_lines(update))
    for park in plan.parks:
        lines.append(
            f"{INDENT}(first {park.name!r} is renamed to {park.temporary!r}: another agent "
            "takes its name)"
        )
    for delete in plan.deletes:
        why = f"its file {delete.file} was removed" if delete.file else "not in these files"
        forced = " — over changes made on the server (--force)" if delete.forced else ""
        lines.append(f"- delete   {delete.name!r} (version {delete.version}; {why}){forced}")
    for kept in plan.kept:
        if kept.file:
            lines.append(
                f"? removed  {kept.file}: {kept.name!r} stays on the server (apply --prune "
                "deletes it)"
            )
        else:
            lines.append(
                f"? server   {kept.name!r} is on the server, in no file here (pull adds it; "
                "apply --prune would delete it)"
            )
    for conflict in plan.conflicts:
        lines.extend(_conflict_lines(conflict))
    if plan.in_sync:
        lines.append(
            f"In sync: the server holds exactly the agents of these files "
            f"({count(len(plan.unchanged), 'agent')})."
        )
    else:
        lines.append(summary(plan))
    return lines


def render_problems(problems: Iterable[FileProblem]) -> list[str]:
    return [str(problem) for problem in problems]


def render_steps(title: str, steps: Sequence[str]) -> list[str]:
    return [title] + [f"{INDENT}{step}" for step in steps] if steps else []


# -- releases and environments ------------------------------------------------------------------


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows as lines of left-aligned columns two spaces apart (the last one not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_release(release: Release, *, named: Collection[UUID] | None = None) -> list[str]:
    """A new release and its members; with ``named`` (the agents asked for), the members the
    release holds only because a named agent hands off to them say so."""
    message = f": {_value(release.message)}" if release.message else ""
    lines = [
        f"Created release {release.number} with {count(len(release.agents), 'agent')}{message}"
    ]
    rows = [
        [
            INDENT + member.name,
            f"version {member.version}",
            "(through handoffs)" if named is not None and member.agent_id not in named else "",
        ]
        for member in release.agents
    ]
    return lines + (_columns(rows) if rows else [])


def serves(environment: Environment) -> str:
    """What an environment serves: ``release 4`` or ``release 4, canary release 5 on 10% of
    calls``."""
    text = f"release {environment.release}"
    canary = environment.canary
    if canary is not None:
        text += f", canary release {canary.release} on {canary.weight}% of calls"
    return text


def render_move(before: Environment | None, after: Environment) -> str:
    """One line for a deploy, promotion or rollback: what the environment serves now and what
    it served before (``before``: as read just before the move; ``None`` when it was new)."""
    if before is None:
        return f"Created {after.name}: serves {serves(after)} (revision {after.revision})."
    if before.revision == after.revision:
        return (
            f"Nothing changed: {after.name} already serves {serves(after)} "
            f"(revision {after.revision})."
        )
    return (
        f"{after.name} now serves {serves(after)} (revision {after.revision}; before: "
        f"{serves(before)})."
    )


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def render_status(environments: Sequence[Environment]) -> list[str]:
    if not environments:
        return ["No environments yet: agentsctl deploy ENV RELEASE creates one."]
    rows = [["ENVIRONMENT", "RELEASE", "CANARY", "REVISION", "UPDATED"]]
    rows.extend(
        [
            environment.name,
            str(environment.release),
            "-"
            if environment.canary is None
            else f"{environment.canary.release} ({environment.canary.weight}%)",
            str(environment.revision),
            _when(environment.updated_at),
        ]
        for environment in environments
    )
    return _columns(rows)


def _mismatch_line(mismatch: Mismatch, number: int) -> str:
    if mismatch.kind is MismatchKind.CHANGED:
        return (
            f"~ {mismatch.file}: {mismatch.name!r} differs from release {number} (version "
            f"{mismatch.version}) in: {', '.join(mismatch.members)}"
        )
    if mismatch.kind is MismatchKind.NOT_RELEASED:
        return f"+ {mismatch.file}: {mismatch.name!r} is not in release {number}"
    return (
        f"- {mismatch.name!r} (version {mismatch.version}) is in release {number}, in no file here"
    )


def render_served(served: Served, mismatches: Sequence[Mismatch], *, directory: str) -> list[str]:
    """How the agent files of ``directory`` compare with what an environment serves."""
    environment, number = served.environment.name, served.release.number
    canary = (
        f" (its canary, release {served.environment.canary.release}, is not compared)"
        if served.environment.canary is not None
        else ""
    )
    if not mismatches:
        return [
            f"{directory} matches what {environment} serves: release {number}, "
            f"{count(len(served.release.agents), 'agent')}{canary}."
        ]
    return [
        f"{directory} differs from what {environment} serves, release {number}{canary}:",
        *(INDENT + _mismatch_line(m, number) for m in mismatches),
    ]
