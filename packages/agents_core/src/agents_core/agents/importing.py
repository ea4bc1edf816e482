"""Import planning: which items of a batch become agents, with which handoff targets.

A pure function over values (:func:`plan`), tested without a database; the agent service reads
what it needs (the organization's active agents among the names the batch mentions), plans, and
writes the plan with one insert.

Import rules, in the order they apply:

* An item whose name (case-insensitively) is already taken by an active agent of the
  organization, or by an earlier item of the batch, is **skipped**.
* A handoff name resolves to the agent that holds that name once the import is done: the
  existing active agent when there is one (also when the batch's item of that name is skipped
  because of it), else the first item of the batch with that name.
* Every item is validated (skipped ones too) before anything is written; any invalid item fails
  the whole batch with a 400 that names each item's index and field
  (``agents[3].handoff_targets[0]``), and nothing is created.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from uuid import UUID, uuid4

import msgspec

from agents_core.agents.repository import name_key
from agents_core.errors import InvalidHandoffTargets
from agents_core.schemas import AgentConfig, AgentExport, FieldError

__all__ = ["MAX_REPORTED_ERRORS", "ImportPlan", "mentioned_names", "plan"]

MAX_REPORTED_ERRORS = 100
"""A batch can hold thousands of items; the error answer lists at most this many fields."""


class ImportPlan(msgspec.Struct, kw_only=True):
    """What an import creates (new id → configuration, in batch order) and skips."""

    create: dict[UUID, AgentConfig]
    created_names: list[str]
    skipped_names: list[str]


def mentioned_names(items: Sequence[AgentExport]) -> list[str]:
    """The name keys a batch mentions (its items' names and their handoff targets), sorted:
    the existing agents a plan needs to know of."""
    keys = {name_key(item.name) for item in items}
    for item in items:
        keys.update(name_key(t) for t in item.handoff_targets or ())
    return sorted(keys)


def plan(
    items: Sequence[AgentExport],
    existing: Mapping[str, UUID],
    *,
    new_id: Callable[[], UUID] = uuid4,
) -> ImportPlan:
    """Plan the import of ``items`` into an organization whose active agents are ``existing``
    (name key → id, at least for the names the batch mentions).

    Raises :class:`InvalidHandoffTargets` naming every unresolvable handoff (at most
    :data:`MAX_REPORTED_ERRORS`) when any item is invalid.
    """
    keys = [name_key(item.name) for item in items]
    # Who will hold each name once the import is done; ids are made here so that handoff names
    # resolve to ids before anything is written.
    holder: dict[str, UUID] = dict(existing)
    new_ids: list[UUID | None] = []
    for key in keys:
        if key in holder:
            new_ids.append(None)
        else:
            holder[key] = new_id()
            new_ids.append(holder[key])

    errors: list[FieldError] = []
    bad_items: list[int] = []
    resolved: list[list[UUID]] = []
    for index, item in enumerate(items):
        targets: list[UUID] = []
        item_ok = True
        for position, target in enumerate(item.handoff_targets or ()):
            target_key = name_key(target)
            if target_key == keys[index]:
                message = "an agent cannot hand off to itself"
            elif target_key not in holder:
                message = f"no active agent named {target!r} in this organization or in the batch"
            else:
                targets.append(holder[target_key])
                continue
            item_ok = False
            errors.append(
                FieldError(field=f"agents[{index}].handoff_targets[{position}]", message=message)
            )
        if not item_ok:
            bad_items.append(index)
        # Distinct names could still meet in one agent; keep each target once.
        resolved.append(list(dict.fromkeys(targets)))

    if errors:
        shown = ", ".join(str(i) for i in bad_items[:10])
        more = f" and {len(bad_items) - 10} more" if len(bad_items) > 10 else ""
        raise InvalidHandoffTargets(
            f"agents at index {shown}{more} hand off to agents that cannot be resolved; "
            "nothing was imported",
            errors=errors[:MAX_REPORTED_ERRORS],
        )

    create: dict[UUID, AgentConfig] = {}
    created_names: list[str] = []
    skipped_names: list[str] = []
    for index, item in enumerate(items):
        agent_id = new_ids[index]
        if agent_id is None:
            skipped_names.append(item.name)
            continue
        create[agent_id] = item.config(resolved[index])
        created_names.append(item.name)
    return ImportPlan(create=create, created_names=created_names, skipped_names=skipped_names)
