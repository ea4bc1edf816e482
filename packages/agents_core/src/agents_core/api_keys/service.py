"""API keys: created by an admin, shown once, stored as a hash, revocable."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agents_core.db.models import ApiKey
from agents_core.errors import NotFound
from agents_core.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, Role

__all__ = [
    "KEY_PREFIX",
    "ApiKeyNotFound",
    "ApiKeyService",
    "api_key_public",
    "hash_api_key",
    "looks_like_api_key",
]

KEY_PREFIX = "agk_"
"""Every API key starts with this, which tells it apart from a JWT at a glance."""


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"

    def __init__(self) -> None:
        super().__init__("API key not found")


def hash_api_key(key: str) -> str:
    """The stored form of a key.

    Keys carry 256 bits of randomness, so a fast hash is enough: there is nothing to brute-force,
    and lookups by hash stay one indexed query per request.
    """
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


def api_key_public(key: ApiKey) -> ApiKeyPublic:
    return ApiKeyPublic(
        id=key.id, name=key.name, role=Role(key.role), prefix=key.prefix, created_at=key.created_at
    )


class ApiKeyService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, organization_id: UUID, data: ApiKeyCreate, *, created_by: UUID | None
    ) -> ApiKeyCreated:
        secret = secrets.token_urlsafe(32)
        key = f"{KEY_PREFIX}{secret}"
        row = ApiKey(
            organization_id=organization_id,
            name=data.name,
            role=data.role.value,
            prefix=key[:12],
            key_hash=hash_api_key(key),
            created_by=created_by,
        )
        self.session.add(row)
        await self.session.flush()
        return ApiKeyCreated(
            id=row.id,
            name=row.name,
            role=data.role,
            prefix=row.prefix,
            key=key,
            created_at=row.created_at,
        )

    async def list(self, organization_id: UUID) -> Sequence[ApiKey]:
        stmt = (
            select(ApiKey)
            .where(ApiKey.organization_id == organization_id, ApiKey.revoked_at.is_(None))
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKey:
        stmt = select(ApiKey).where(
            ApiKey.id == key_id,
            ApiKey.organization_id == organization_id,
            ApiKey.revoked_at.is_(None),
        )
        row = (await self.session.scalars(stmt)).first()
        if row is None:
            raise ApiKeyNotFound()
        return row

    async def revoke(self, organization_id: UUID, key_id: UUID) -> None:
        row = await self.get(organization_id, key_id)
        row.revoked_at = datetime.now(UTC)
        await self.session.flush()
