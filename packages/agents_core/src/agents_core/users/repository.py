"""The users aggregate's statements."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

import msgspec
from sqlalchemy import Table, and_, bindparam, func, literal_column, null, select, update

from agents_core.db import Query, Repository, RowShape, Violations, insert_into, new_values
from agents_core.db.models import USER_EMAIL_INDEX, User
from agents_core.errors import EmailTaken, UserNotFound
from agents_core.principal import Principal
from agents_core.schemas import Role, UserPublic

__all__ = ["Credentials", "UserRepository"]


class Credentials(msgspec.Struct, frozen=True):
    """What checking a password needs to know of a user."""

    id: UUID
    organization_id: UUID
    role: Role
    password_hash: str
    is_active: bool


_users = cast(Table, User.__table__)
_c = _users.c
USER = RowShape(UserPublic, _users)
CREDENTIALS = RowShape(Credentials, _users)
PRINCIPAL = RowShape(Principal, _users, columns={"user_id": _c.id, "api_key_id": null()})

_in_org = and_(_c.id == bindparam("user_id"), _c.organization_id == bindparam("organization_id"))
_by_email = func.lower(_c.email) == bindparam("email_key")

_INSERT = Query(
    insert_into(
        _users,
        ("id", "organization_id", "email", "full_name", "role", "password_hash"),
        is_active=literal_column("true"),
    ).returning(*USER.columns)
)
_CREDENTIALS = Query(select(*CREDENTIALS.columns).where(_by_email))
_BY_EMAIL = Query(select(*USER.columns).where(_by_email))
_LIST = Query(
    select(*USER.columns)
    .where(_c.organization_id == bindparam("organization_id"))
    .order_by(_c.created_at, _c.id)
)
_GET = Query(select(*USER.columns).where(_in_org))
# The organization's active admins, locked: two admins demoting each other at the same time
# cannot leave the organization without one.
_LOCK_ADMINS = Query(
    select(_c.id)
    .where(
        _c.organization_id == bindparam("organization_id"),
        _c.role == bindparam("admin_role"),
        _c.is_active.is_(True),
    )
    .order_by(_c.id)
    .with_for_update()
)
_UPDATE = Query(
    update(_users)
    .where(_in_org)
    .values(
        role=bindparam("new_role"),
        is_active=bindparam("new_is_active"),
        full_name=bindparam("new_full_name"),
        updated_at=bindparam("now"),
    )
    .returning(*USER.columns)
)
_PRINCIPAL = Query(
    select(*PRINCIPAL.columns).where(_c.id == bindparam("user_id"), _c.is_active.is_(True))
)

_EMAIL_TAKEN: Violations = {USER_EMAIL_INDEX: lambda _: EmailTaken()}


class UserRepository(Repository):
    async def insert(
        self,
        organization_id: UUID,
        *,
        user_id: UUID,
        email: str,
        full_name: str | None,
        role: Role,
        password_hash: str,
        now: datetime,
    ) -> UserPublic:
        """A new active user; :class:`EmailTaken` when the email is taken (in any case)."""
        values = new_values(
            now,
            id=user_id,
            organization_id=organization_id,
            email=email,
            full_name=full_name,
            role=role.value,
            password_hash=password_hash,
        )
        return await USER.written(self.conn, _INSERT, values, _EMAIL_TAKEN)

    async def credentials(self, email: str) -> Credentials | None:
        return await CREDENTIALS.one(self.conn, _CREDENTIALS, {"email_key": email.lower()})

    async def by_email(self, email: str) -> UserPublic | None:
        return await USER.one(self.conn, _BY_EMAIL, {"email_key": email.lower()})

    async def list(self, organization_id: UUID) -> list[UserPublic]:
        return await USER.many(self.conn, _LIST, {"organization_id": organization_id})

    async def get(self, organization_id: UUID, user_id: UUID) -> UserPublic:
        params = {"organization_id": organization_id, "user_id": user_id}
        return await USER.get(self.conn, _GET, params, UserNotFound)

    async def lock_active_admins(self, organization_id: UUID) -> set[UUID]:
        rows = await self.conn.fetch(
            _LOCK_ADMINS, {"organization_id": organization_id, "admin_role": Role.ADMIN.value}
        )
        return {row[0] for row in rows}

    async def update(
        self,
        user: UserPublic,
        *,
        role: Role,
        is_active: bool,
        full_name: str | None,
        now: datetime,
    ) -> UserPublic:
        return await USER.written(
            self.conn,
            _UPDATE,
            {
                "organization_id": user.organization_id,
                "user_id": user.id,
                "new_role": role.value,
                "new_is_active": is_active,
                "new_full_name": full_name,
                "now": now,
            },
        )

    async def principal(self, user_id: UUID) -> Principal | None:
        """An active user as a principal (its organization and role)."""
        return await PRINCIPAL.one(self.conn, _PRINCIPAL, {"user_id": user_id})
