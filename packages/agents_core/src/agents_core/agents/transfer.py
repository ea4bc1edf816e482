"""Moving agents between organizations and deployments: export and bulk import.

An export is portable: no ids, organization or timestamps, and handoff targets are written as
the target agents' *names*. Import resolves those names again, against the organization's
active agents and every agent of the batch (before or after the item), so a triage agent and
its experts round-trip in any order.

Import rules, in the order they apply:

* An item whose name (case-insensitively) is already taken by an active agent of the
  organization, or by an earlier item of the batch, is **skipped**.
* A handoff name resolves to the agent that holds that name once the import is done: the
  existing active agent when there is one (also when the batch's item of that name is skipped
  because of it), else the first item of the batch with that name.
* Every item is validated (skipped ones too) before anything is written; any invalid item fails
  the whole batch with a 400 that names each item's index and field
  (``agents[3].handoff_targets[0]``), and nothing is created.
* The number of SQL statements does not depend on the number of agents: one query reads (and
  share-locks) the existing agents the batch mentions, one ``INSERT`` writes every agent (ids
  are generated here, so handoff names are resolved to ids before the insert), and the event
  feed gets one ``INSERT`` and one ``pg_notify`` for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import String, Table, any_, bindparam, func, insert, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agents_core.agents.queries import MODALITIES, PANELS
from agents_core.db.database import Connection, Query, violates
from agents_core.db.models import AGENT_NAME_INDEX, Agent
from agents_core.errors import AgentNameTaken, InvalidHandoffTargets
from agents_core.events.recorder import record_events
from agents_core.schemas import (
    DEFAULT_MODEL,
    AgentEventKind,
    AgentExport,
    AgentImportResult,
    AgentModality,
    AgentPublic,
    FieldError,
)

__all__ = ["AgentTransferService", "export_agents", "name_key"]

MAX_REPORTED_ERRORS = 100
"""A batch can hold thousands of items; the error answer lists at most this many fields."""

_AGENTS_TABLE = cast(Table, Agent.__table__)


def name_key(name: str) -> str:
    """The key under which agent names are compared (case-insensitively, as the database's
    unique index on ``lower(name)`` does)."""
    return name.lower()


# -- export ---------------------------------------------------------------------------------------

_EXPORT = Query(
    select(
        Agent.id,
        Agent.name,
        Agent.instructions,
        Agent.model,
        Agent.voice,
        Agent.modality,
        Agent.panels,
        Agent.tools,
        Agent.handoff_targets,
    )
    .where(Agent.organization_id == bindparam("organization_id"), Agent.is_active.is_(True))
    .order_by(Agent.created_at, Agent.id)
)


async def export_agents(conn: Connection, organization_id: UUID) -> list[AgentExport]:
    """Every active agent of the organization, oldest first, as portable :class:`AgentExport`.

    One query. Handoff targets become names; an id that names no active agent (which the
    handoff invariant rules out) is left out rather than exported as something unresolvable.
    """
    rows = await conn.fetch(_EXPORT, {"organization_id": organization_id})
    names: dict[UUID, str] = {row[0]: row[1] for row in rows}
    return [
        AgentExport(
            name=row[1],
            instructions=row[2],
            model=row[3],
            voice=row[4],
            modality=MODALITIES[row[5]],
            panels=[PANELS[p] for p in row[6]],
            tools=list(row[7]),
            handoff_targets=[names[t] for t in row[8] if t in names],
        )
        for row in rows
    ]


# -- import ---------------------------------------------------------------------------------------


class AgentTransferService:
    """Bulk import of portable agents, in the caller's transaction (``Database.session()``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _existing(self, organization_id: UUID, keys: Sequence[str]) -> dict[str, UUID]:
        """Name key → id of the organization's active agents whose names are among ``keys``.

        The rows are share-locked until the transaction ends, so an agent the batch hands off
        to cannot be deleted before the batch commits (a delete waits, then sees the new
        referrers).
        """
        if not keys:
            return {}
        if self.session.get_bind().dialect.name == "postgresql":
            # One array parameter: a batch can mention more names than a statement can take
            # separate parameters (32767).
            wanted = func.lower(Agent.name) == any_(
                bindparam("keys", list(keys), type_=ARRAY(String()))
            )
        else:
            wanted = func.lower(Agent.name).in_(bindparam("keys", list(keys), expanding=True))
        stmt = (
            select(Agent.id, Agent.name)
            .where(
                Agent.organization_id == organization_id,
                Agent.is_active.is_(True),
                wanted,
            )
            .order_by(Agent.id)
            .with_for_update(read=True)
        )
        rows = (await self.session.execute(stmt)).all()
        return {name_key(name): agent_id for agent_id, name in rows}

    async def import_agents(
        self,
        organization_id: UUID,
        items: Sequence[AgentExport],
        *,
        dry_run: bool = False,
        actor_id: UUID | None = None,
    ) -> AgentImportResult:
        """Create the batch's new agents, all or nothing (see the module's rules).

        With ``dry_run`` the batch is validated and the result reported, but nothing is
        written and ``agents`` is empty.
        """
        keys = [name_key(item.name) for item in items]
        mentioned = set(keys)
        for item in items:
            mentioned.update(name_key(t) for t in item.handoff_targets or ())
        existing = await self._existing(organization_id, sorted(mentioned))

        # Who will hold each name once the import is done; ids are made here so that handoff
        # names resolve to ids before anything is inserted.
        holder: dict[str, UUID] = dict(existing)
        new_ids: list[UUID | None] = []
        for key in keys:
            if key in holder:
                new_ids.append(None)
            else:
                holder[key] = uuid4()
                new_ids.append(holder[key])

        errors: list[FieldError] = []
        bad_items: list[int] = []
        resolved: list[list[UUID]] = []
        for index, item in enumerate(items):
            targets: list[UUID] = []
            item_ok = True
            for position, target in enumerate(item.handoff_targets or ()):
                target_key = name_key(target)
                field = f"agents[{index}].handoff_targets[{position}]"
                if target_key == keys[index]:
                    message = "an agent cannot hand off to itself"
                elif target_key not in holder:
                    message = (
                        f"no active agent named {target!r} in this organization or in the batch"
                    )
                else:
                    targets.append(holder[target_key])
                    continue
                item_ok = False
                errors.append(FieldError(field=field, message=message))
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

        now = datetime.now(UTC)
        rows: list[dict[str, Any]] = []
        created: list[AgentPublic] = []
        skipped_names: list[str] = []
        for index, item in enumerate(items):
            agent_id = new_ids[index]
            if agent_id is None:
                skipped_names.append(item.name)
                continue
            modality = item.modality or AgentModality.AUDIO_ONLY
            panels = list(item.panels or [])
            agent = AgentPublic(
                id=agent_id,
                organization_id=organization_id,
                name=item.name,
                instructions=item.instructions,
                model=item.model or DEFAULT_MODEL,
                voice=item.voice,
                handoff_targets=resolved[index],
                tools=list(item.tools or []),
                modality=modality,
                panels=panels,
                is_active=True,
                current_version=1,
                created_at=now,
                updated_at=now,
            )
            created.append(agent)
            rows.append(
                {
                    "id": agent.id,
                    "organization_id": organization_id,
                    "name": agent.name,
                    "instructions": agent.instructions,
                    "model": agent.model,
                    "voice": agent.voice,
                    "handoff_targets": agent.handoff_targets,
                    "tools": agent.tools,
                    "modality": modality.value,
                    "panels": [p.value for p in panels],
                    "is_active": True,
                    "current_version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )

        result = AgentImportResult(
            created=len(created),
            skipped=len(skipped_names),
            agents=[] if dry_run else created,
            created_names=[a.name for a in created],
            skipped_names=skipped_names,
            dry_run=dry_run,
        )
        if dry_run or not rows:
            return result
        try:
            # One Core executemany for the whole batch (the driver pipelines it). Not the ORM's
            # bulk insert: it groups consecutive rows by which values are None, so a batch that
            # alternates e.g. ``voice`` set / unset would become one INSERT per row.
            await self.session.execute(insert(_AGENTS_TABLE), rows)
        except IntegrityError as exc:
            if violates(exc, AGENT_NAME_INDEX):
                # Another writer took one of the names since we looked.
                raise AgentNameTaken(
                    "An agent of the batch was given the same name concurrently; "
                    "nothing was imported"
                ) from None
            raise
        await record_events(
            Connection.of_session(self.session),
            [(organization_id, a.id, 1, AgentEventKind.IMPORTED) for a in created],
            actor_id=actor_id,
        )
        return result
