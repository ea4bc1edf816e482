"""The API keys aggregate's statements."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import cast
from uuid import UUID, uuid4

from sqlalchemy import Table, and_, bindparam, null, select, update

from agents_core.db import Query, Repository, RowShape, insert_into, new_values
from agents_core.db.models import ApiKey
from agents_core.errors import ApiKeyNotFound
from agents_core.principal import Principal
from agents_core.schemas import ApiKeyCreate, ApiKeyPublic

__all__ = ["ApiKeyRepository", "hash_api_key"]


def hash_api_key(key: str) -> str:
    """The stored form of a key.

    Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force,
    and lookups by hash stay one indexed query per request.
    """
    return hashlib.sha256(key.encode()).hexdigest()


_keys = cast(Table, ApiKey.__table__)
_c = _keys.c
KEY = RowShape(ApiKeyPublic, _keys)
PRINCIPAL = RowShape(Principal, _keys, columns={"user_id": null(), "api_key_id": _c.id})

_live_in_org = and_(
    _c.id == bindparam("key_id"),
    _c.organization_id == bindparam("organization_id"),
    _c.revoked_at.is_(None),
)

_INSERT = Query(
    insert_into(
        _keys, ("id", "organization_id", "name", "role", "prefix", "key_hash", "created_by")
    ).returning(*KEY.columns)
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
    select(*PRINCIPAL.columns).where(_c.key_hash == bindparam("key_hash"), _c.revoked_at.is_(None))
)


class ApiKeyRepository(Repository):
    async def insert(
        self, organization_id: UUID, data: ApiKeyCreate, key: str, created_by: UUID | None
    ) -> ApiKeyPublic:
        """A new live key, stored as its hash (and the prefix that helps tell keys apart)."""
        values = new_values(
            datetime.now(UTC),
            id=uuid4(),
            organization_id=organization_id,
            name=data.name,
            role=data.role.value,
            prefix=key[:12],
            key_hash=hash_api_key(key),
            created_by=created_by,
        )
        return await KEY.written(self.conn, _INSERT, values)

    async def list(self, organization_id: UUID) -> list[ApiKeyPublic]:
        return await KEY.many(self.conn, _LIST, {"organization_id": organization_id})

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKeyPublic:
        params = {"organization_id": organization_id, "key_id": key_id}
        return await KEY.get(self.conn, _GET, params, ApiKeyNotFound)

    async def revoke(self, organization_id: UUID, key_id: UUID, now: datetime) -> bool:
        """Revoke a live key; whether there was one."""
        row = await self.conn.fetchrow(
            _REVOKE, {"organization_id": organization_id, "key_id": key_id, "now": now}
        )
        return row is not None

    async def principal(self, key: str) -> Principal | None:
        """A live key as a principal (its organization and role)."""
        return await PRINCIPAL.one(self.conn, _BY_HASH, {"key_hash": hash_api_key(key)})
