"""The read-path lookups behind authentication: one indexed query per request."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import bindparam, select

from agents_core.api_keys.service import hash_api_key
from agents_core.db.database import Connection, Query
from agents_core.db.models import ApiKey, User
from agents_core.principal import Principal
from agents_core.schemas import Role

__all__ = ["principal_for_api_key", "principal_for_user"]

_USER = Query(
    select(User.organization_id, User.role).where(
        User.id == bindparam("user_id"), User.is_active.is_(True)
    )
)
_API_KEY = Query(
    select(ApiKey.id, ApiKey.organization_id, ApiKey.role).where(
        ApiKey.key_hash == bindparam("key_hash"), ApiKey.revoked_at.is_(None)
    )
)


async def principal_for_user(conn: Connection, user_id: UUID) -> Principal | None:
    """The principal of an active user (the token only names the user; its state is read now)."""
    row = await conn.fetchrow(_USER, {"user_id": user_id})
    if row is None:
        return None
    return Principal(organization_id=row[0], role=Role(row[1]), user_id=user_id)


async def principal_for_api_key(conn: Connection, key: str) -> Principal | None:
    row = await conn.fetchrow(_API_KEY, {"key_hash": hash_api_key(key)})
    if row is None:
        return None
    return Principal(organization_id=row[1], role=Role(row[2]), api_key_id=row[0])
