"""Plans, problems and outcomes as the text ``agentsctl`` prints (pure: lines from values)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from agents_client.ctl.agent_files import FileProblem
from agents_client.ctl.plan import Conflict, FieldChange, Plan, Update

__all__ = ["count", "render_plan", "render_problems", "render_steps", "summary"]

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
