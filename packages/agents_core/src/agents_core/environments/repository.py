"""The environments aggregate's statements: environments, their history of moves, and what an
environment serves (its releases' members, read through :mod:`agents_core.releases.pinned`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar, cast
from uuid import UUID

import msgspec
from sqlalchemy import (
    ColumnElement,
    FromClause,
    Integer,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    or_,
    select,
    update,
)

from agents_core.db import Query, Repository, RowShape, Violations, insert_into, new_values
from agents_core.db.models import ENVIRONMENT_NAME_CONSTRAINT, Environment, EnvironmentMove
from agents_core.db.types import AnyOf
from agents_core.environments.routing import Serving
from agents_core.errors import EnvironmentNameTaken, EnvironmentNotFound
from agents_core.releases import pinned
from agents_core.releases.pinned import MEMBER_NAMED, PinnedMemberNamed, with_members
from agents_core.schemas import Canary
from agents_core.schemas import Environment as EnvironmentPublic
from agents_core.schemas import EnvironmentMove as EnvironmentMovePublic

__all__ = [
    "SERVING",
    "EnvironmentRepository",
    "EnvironmentRow",
    "MovePage",
    "ServedAgent",
    "Target",
    "environments",
    "serves",
]

environments = cast(Table, Environment.__table__)
_environments = environments
_moves = cast(Table, EnvironmentMove.__table__)
e = _environments.alias("e")
"""The alias :data:`SERVING` reads from."""
_e = e
_r = pinned.r
_m = pinned.m


def serves(environment: FromClause, release: FromClause) -> ColumnElement[bool]:
    """``release`` is one that ``environment`` serves: its own, or its canary."""
    return and_(
        release.c.organization_id == environment.c.organization_id,
        or_(
            release.c.number == environment.c.release,
            release.c.number == environment.c.canary_release,
        ),
    )


class Target(msgspec.Struct, frozen=True):
    """Where a move points an environment: a release, and a canary release with its weight."""

    release: int
    canary_release: int | None = None
    canary_weight: int | None = None

    @property
    def canary(self) -> Canary | None:
        release, weight = self.canary_release, self.canary_weight
        return None if release is None or weight is None else Canary(release=release, weight=weight)


PublicT = TypeVar("PublicT", EnvironmentPublic, EnvironmentMovePublic)


def _public(row: EnvironmentRow | _MoveRow, public: type[PublicT]) -> PublicT:
    """``public`` filled from the row's fields of the same names, its canary from the row's
    target."""
    values = {name: getattr(row, name) for name in public.__struct_fields__ if name != "canary"}
    return public(**values, canary=row.target.canary)


class EnvironmentRow(msgspec.Struct):
    id: UUID
    name: str
    release: int
    canary_release: int | None
    canary_weight: int | None
    revision: int
    updated_at: datetime
    updated_by: UUID | None

    @property
    def target(self) -> Target:
        return Target(self.release, self.canary_release, self.canary_weight)

    def public(self) -> EnvironmentPublic:
        return _public(self, EnvironmentPublic)


class _MoveRow(msgspec.Struct):
    revision: int
    release: int
    canary_release: int | None
    canary_weight: int | None
    previous_release: int | None
    actor_id: UUID | None
    created_at: datetime

    @property
    def target(self) -> Target:
        return Target(self.release, self.canary_release, self.canary_weight)

    def public(self) -> EnvironmentMovePublic:
        return _public(self, EnvironmentMovePublic)


class MovePage(msgspec.Struct, kw_only=True):
    items: list[EnvironmentMovePublic]
    total: int


class ServedAgent(msgspec.Struct, frozen=True):
    """What an environment serves, and the agent's pinned row in each release it serves
    (absent where the agent is not a member)."""

    serving: Serving
    members: dict[int, PinnedMemberNamed]


ENVIRONMENT = RowShape(EnvironmentRow, _environments)
MOVE = RowShape(_MoveRow, _moves)
SERVING = RowShape(Serving, _e)

_org = bindparam("organization_id", type_=_environments.c.organization_id.type)
_name = bindparam("name", type_=_environments.c.name.type)
_environment_id = bindparam("environment_id", type_=_moves.c.environment_id.type)
_this = and_(_environments.c.organization_id == _org, _environments.c.name == _name)

_LIST = Query(select(*ENVIRONMENT.columns).where(_environments.c.organization_id == _org))
_GET = Query(select(*ENVIRONMENT.columns).where(_this))
_LOCK = Query(select(*ENVIRONMENT.columns).where(_this).with_for_update())

_TARGET_COLUMNS = ("release", "canary_release", "canary_weight")
_INSERT = Query(
    insert_into(
        _environments, ("id", "organization_id", "name", *_TARGET_COLUMNS, "revision", "updated_by")
    ).returning(*ENVIRONMENT.columns)
)
_UPDATE = Query(
    update(_environments)
    .where(_environments.c.id == bindparam("environment_id"))
    .values(
        {
            name: bindparam(f"new_{name}", type_=_environments.c[name].type)
            for name in (*_TARGET_COLUMNS, "revision", "updated_by")
        }
        | {"updated_at": bindparam("now")}
    )
    .returning(*ENVIRONMENT.columns)
)
_DELETE = Query(delete(_environments).where(_environments.c.id == bindparam("environment_id")))

_RELEASES = pinned.releases
_EXISTING_RELEASES = Query(
    select(_RELEASES.c.number).where(
        _RELEASES.c.organization_id == _org, AnyOf(_RELEASES.c.number, "numbers", Integer())
    )
)

_INSERT_MOVE = Query(
    _moves.insert().values(
        {
            name: bindparam(f"new_{name}", type_=_moves.c[name].type)
            for name in ("environment_id", "revision", *_TARGET_COLUMNS, "previous_release")
        }
        | {"actor_id": bindparam("new_actor_id"), "created_at": bindparam("now")}
    )
)
# The history joined to its environment: no row for a missing one (nor past the end).
_HISTORY = Query(
    select(*MOVE.columns, func.count().over().label("total"))
    .select_from(_environments.join(_moves, _moves.c.environment_id == _environments.c.id))
    .where(_this)
    .order_by(_moves.c.revision.desc())
    .limit(bindparam("limit", type_=Integer()))
    .offset(bindparam("offset", type_=Integer()))
)
_COUNT_MOVES = Query(
    select(func.count(_moves.c.revision))
    .select_from(_environments.outerjoin(_moves, _moves.c.environment_id == _environments.c.id))
    .where(_this)
    .group_by(_environments.c.id)
)
# The latest move to a release other than the one served now: canary-only moves kept the
# release they found, so they never qualify.
_PREVIOUS_RELEASE = Query(
    select(_moves.c.release)
    .where(
        _moves.c.environment_id == _environment_id,
        _moves.c.release != bindparam("current", type_=Integer()),
    )
    .order_by(_moves.c.revision.desc())
    .limit(literal_column("1"))
)
_SERVED = Query(
    select(_moves.c.revision)
    .where(
        _moves.c.environment_id == _environment_id,
        _moves.c.release == bindparam("release", type_=Integer()),
    )
    .limit(literal_column("1"))
)

# What the environment serves, and the agent in each of its releases: one row per release it
# serves (member columns NULL where the agent is not in it); no row when it does not exist.
_SERVING = Query(
    select(*SERVING.columns, _r.c.number, *MEMBER_NAMED.columns)
    .select_from(
        with_members(
            _e.join(_r, serves(_e, _r)),
            and_(_m.c.release_id == _r.c.id, _m.c.agent_id == bindparam("agent_id")),
            outer=True,
        )
    )
    .where(_e.c.organization_id == _org, _e.c.name == _name)
)
_SERVING_WIDTH = len(SERVING.fields)
_MEMBER_AT = _SERVING_WIDTH + 1 + MEMBER_NAMED.fields.index("agent_id")

_NAME_TAKEN: Violations = {ENVIRONMENT_NAME_CONSTRAINT: lambda _: EnvironmentNameTaken()}


class EnvironmentRepository(Repository):
    async def all(self, organization_id: UUID) -> list[EnvironmentRow]:
        """The organization's environments, by name."""
        rows = await ENVIRONMENT.many(self.conn, _LIST, {"organization_id": organization_id})
        return sorted(rows, key=lambda row: row.name)

    async def find(
        self, organization_id: UUID, name: str, *, lock: bool = False
    ) -> EnvironmentRow | None:
        """The environment, if there is one; with ``lock``, locked until the transaction ends
        (its writers queue here)."""
        return await ENVIRONMENT.one(
            self.conn, _LOCK if lock else _GET, {"organization_id": organization_id, "name": name}
        )

    async def get(self, organization_id: UUID, name: str, *, lock: bool = False) -> EnvironmentRow:
        """The environment (see :meth:`find`), or :class:`EnvironmentNotFound`."""
        params = {"organization_id": organization_id, "name": name}
        return await ENVIRONMENT.get(
            self.conn, _LOCK if lock else _GET, params, EnvironmentNotFound
        )

    async def existing_releases(self, organization_id: UUID, numbers: Sequence[int]) -> set[int]:
        rows = await self.conn.fetch(
            _EXISTING_RELEASES, {"organization_id": organization_id, "numbers": list(numbers)}
        )
        return {row[0] for row in rows}

    async def insert(
        self,
        organization_id: UUID,
        name: str,
        target: Target,
        *,
        actor_id: UUID | None,
        now: datetime,
        environment_id: UUID,
    ) -> EnvironmentRow:
        """A new environment at revision 1; :class:`EnvironmentNameTaken` when a concurrent
        writer created one of that name first."""
        return await ENVIRONMENT.written(
            self.conn,
            _INSERT,
            new_values(
                now,
                id=environment_id,
                organization_id=organization_id,
                name=name,
                **msgspec.structs.asdict(target),
                revision=1,
                updated_by=actor_id,
            ),
            _NAME_TAKEN,
        )

    async def move(
        self, current: EnvironmentRow, target: Target, *, actor_id: UUID | None, now: datetime
    ) -> EnvironmentRow:
        """Point the (locked) environment at ``target`` as its next revision."""
        return await ENVIRONMENT.written(
            self.conn,
            _UPDATE,
            new_values(
                now,
                **msgspec.structs.asdict(target),
                revision=current.revision + 1,
                updated_by=actor_id,
            )
            | {"environment_id": current.id},
        )

    async def delete(self, environment_id: UUID) -> None:
        """The environment and its history."""
        await self.conn.execute(_DELETE, {"environment_id": environment_id})

    async def record_move(
        self, moved: EnvironmentRow, previous_release: int | None, *, actor_id: UUID | None
    ) -> None:
        await self.conn.execute(
            _INSERT_MOVE,
            new_values(
                moved.updated_at,
                environment_id=moved.id,
                revision=moved.revision,
                **msgspec.structs.asdict(moved.target),
                previous_release=previous_release,
                actor_id=actor_id,
            ),
        )

    async def history(
        self, organization_id: UUID, name: str, *, limit: int, offset: int
    ) -> MovePage:
        """The environment's moves, newest first, and how many there are."""
        params = {
            "organization_id": organization_id,
            "name": name,
            "limit": limit,
            "offset": offset,
        }
        rows = await self.conn.fetch(_HISTORY, params)
        if rows:
            return MovePage(items=[MOVE(row).public() for row in rows], total=rows[0][-1])
        count = await self.conn.fetchrow(_COUNT_MOVES, params)
        if count is None:
            raise EnvironmentNotFound()
        return MovePage(items=[], total=int(count[0]))

    async def previous_release(self, environment_id: UUID, current: int) -> int | None:
        row = await self.conn.fetchrow(
            _PREVIOUS_RELEASE, {"environment_id": environment_id, "current": current}
        )
        return None if row is None else int(row[0])

    async def served(self, environment_id: UUID, release: int) -> bool:
        """Whether a move ever pointed the environment at ``release`` (not as a canary)."""
        row = await self.conn.fetchrow(
            _SERVED, {"environment_id": environment_id, "release": release}
        )
        return row is not None

    async def serving(self, organization_id: UUID, name: str, agent_id: UUID) -> ServedAgent:
        """What the environment serves and the agent's pinned rows in its releases. One round
        trip."""
        rows = await self.conn.fetch(
            _SERVING, {"organization_id": organization_id, "name": name, "agent_id": agent_id}
        )
        if not rows:
            raise EnvironmentNotFound()
        members = {}
        for row in rows:
            values = tuple(row)
            if values[_MEMBER_AT] is not None:
                members[values[_SERVING_WIDTH]] = MEMBER_NAMED(values[_SERVING_WIDTH + 1 :])
        return ServedAgent(SERVING(rows[0]), members)
