"""The API keys aggregate's statements."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

import msgspec
from sqlalchemy import Table, and_, bindparam, insert, select, update

from agents_core.db import Connection, Query, RowShape
from agents_core.db.models import ApiKey
from agents_core.schemas import ApiKeyPublic, Role

__all__ = ["ApiKeyRepository", "KeyRole"]


class KeyRole(msgspec.Struct, frozen=True):
    """What authenticating a key needs to know of it."""

    id: UUID
    organization_id: UUID
    role: Role


_keys = cast(Table, ApiKey.__table__)
_c = _keys.c
KEY = RowShape(ApiKeyPublic, _keys)
KEY_ROLE = RowShape(KeyRole, _keys)

_live_in_org = and_(
    _c.id == bindparam("key_id"),
    _c.organization_id == bindparam("organization_id"),
    _c.revoked_at.is_(None),
)

_INSERT = Query(
    insert(_keys)
    .values(
        id=bindparam("new_id"),
        organization_id=bindparam("organization_id"),
        name=bindparam("new_name"),
        role=bindparam("new_role"),
        prefix=bindparam("new_prefix"),
        key_hash=bindparam("new_key_hash"),
        created_by=bindparam("created_by"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(*KEY.columns)
)
_LIST = Query(
    select(*KEY.columns)
    .where(_c.organization_id == bindparam("organization_id"), _c.revoked_at.is_(None))
    .order_by(_c.created_at, _c.id)
)
_GET = Query(select(*KEY.columns).where(_live_in_org))
_REVOKE = Query(
    update(_keys)
    .where(_live_in_org)
    .values(revoked_at=bindparam("now"), updated_at=bindparam("now"))
    .returning(_c.id)
)
_BY_HASH = Query(
    select(*KEY_ROLE.columns).where(_c.key_hash == bindparam("key_hash"), _c.revoked_at.is_(None))
)


class ApiKeyRepository:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def insert(
        self,
        organization_id: UUID,
        *,
        key_id: UUID,
        name: str,
        role: Role,
        prefix: str,
        key_hash: str,
        created_by: UUID | None,
        now: datetime,
    ) -> ApiKeyPublic:
        row = await self.conn.fetchrow(
            _INSERT,
            {
                "new_id": key_id,
                "organization_id": organization_id,
                "new_name": name,
                "new_role": role.value,
                "new_prefix": prefix,
                "new_key_hash": key_hash,
                "created_by": created_by,
                "now": now,
            },
        )
        assert row is not None
        return KEY(row)

    async def list(self, organization_id: UUID) -> list[ApiKeyPublic]:
        return KEY.all(await self.conn.fetch(_LIST, {"organization_id": organization_id}))

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKeyPublic | None:
        row = await self.conn.fetchrow(_GET, {"organization_id": organization_id, "key_id": key_id})
        return None if row is None else KEY(row)

    async def revoke(self, organization_id: UUID, key_id: UUID, now: datetime) -> bool:
        """Revoke a live key; whether there was one."""
        row = await self.conn.fetchrow(
            _REVOKE, {"organization_id": organization_id, "key_id": key_id, "now": now}
        )
        return row is not None

    async def by_hash(self, key_hash: str) -> KeyRole | None:
        row = await self.conn.fetchrow(_BY_HASH, {"key_hash": key_hash})
        return None if row is None else KEY_ROLE(row)
