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
from agents_core.service import ScopedService, Service

__all__ = [
    "KEY_PREFIX",
    "ApiKeyAuthenticator",
    "ApiKeyNotFound",
    "ApiKeyService",
    "hash_api_key",
    "looks_like_api_key",
]

KEY_PREFIX = "agk_"
"""Every API key starts with this, which tells it apart from a JWT at a glance."""


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_PREFIX)


class ApiKeyService(ScopedService):
    """API keys of the scope's organization."""

    keys: ApiKeyRepository

    async def create(self, data: ApiKeyCreate) -> ApiKeyCreated:
        """A new key, recorded as created by the scope's actor; the answer is the only time its
        secret is shown."""
        key = f"{KEY_PREFIX}{secrets.token_urlsafe(32)}"
        stored = await self.keys.insert(self.organization_id, data, key, self.actor_id)
        return ApiKeyCreated(**msgspec.structs.asdict(stored), key=key)

    async def list(self) -> list[ApiKeyPublic]:
        return await self.keys.list(self.organization_id)

    async def get(self, key_id: UUID) -> ApiKeyPublic:
        return await self.keys.get(self.organization_id, key_id)

    async def revoke(self, key_id: UUID) -> None:
        if not await self.keys.revoke(self.organization_id, key_id, datetime.now(UTC)):
            raise ApiKeyNotFound()


class ApiKeyAuthenticator(Service):
    """The credentials check of API keys: a key names its organization, so this spans them."""

    keys: ApiKeyRepository

    async def principal(self, key: str) -> Principal | None:
        """The principal of a live key."""
        return await self.keys.principal(key)
