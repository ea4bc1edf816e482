"""API keys: created by an admin, shown once, stored as a hash, revocable."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from agents_core.api_keys.repository import ApiKeyRepository, hash_api_key
from agents_core.errors import ApiKeyNotFound
from agents_core.principal import Principal
from agents_core.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic
from agents_core.service import Service

__all__ = [
    "KEY_PREFIX",
    "ApiKeyNotFound",
    "ApiKeyService",
    "hash_api_key",
    "looks_like_api_key",
]

KEY_PREFIX = "agk_"
"""Every API key starts with this, which tells it apart from a JWT at a glance."""


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


class ApiKeyService(Service):
    """API keys of an organization, on one connection."""

    keys: ApiKeyRepository

    async def create(
        self, organization_id: UUID, data: ApiKeyCreate, *, actor_id: UUID | None = None
    ) -> ApiKeyCreated:
        """A new key, recorded as created by ``actor_id``; the answer is the only time its
        secret is shown."""
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
        stored = await self.keys.insert(organization_id, data, key, actor_id)
        return ApiKeyCreated(**msgspec.structs.asdict(stored), key=key)

    async def list(self, organization_id: UUID) -> list[ApiKeyPublic]:
        return await self.keys.list(organization_id)

    async def get(self, organization_id: UUID, key_id: UUID) -> ApiKeyPublic:
        return await self.keys.get(organization_id, key_id)

    async def revoke(self, organization_id: UUID, key_id: UUID) -> None:
        if not await self.keys.revoke(organization_id, key_id, datetime.now(UTC)):
            raise ApiKeyNotFound()

    async def principal(self, key: str) -> Principal | None:
        """The principal of a live key."""
        return await self.keys.principal(key)
