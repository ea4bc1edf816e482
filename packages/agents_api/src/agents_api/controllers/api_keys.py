from __future__ import annotations

from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.api_keys.service import ApiKeyService
from agents_core.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api-keys"]
    guards = [requires_admin]

    @post(
        "/",
        summary="Create an API key (the key is shown only in this response)",
        responses=problems(400, 401, 403),
        # The answer carries the key: no cache keeps it.
        cache_control=CacheControlHeader(no_store=True),
    )
    async def create_api_key(
        self, data: JSONBody[ApiKeyCreate], caller: NamedDependency[Caller]
    ) -> ApiKeyCreated:
        return await ApiKeyService(caller).create(data)

    @get("/", summary="List the organization's active API keys", responses=problems(401, 403))
    async def list_api_keys(self, caller: NamedDependency[Caller]) -> list[ApiKeyPublic]:
        return await ApiKeyService(caller).list()

    @delete(
        "/{key_id:uuid}",
        summary="Revoke an API key; it stops working at once",
        responses=problems(400, 401, 403, 404),
    )
    async def revoke_api_key(self, key_id: FromPath[UUID], caller: NamedDependency[Caller]) -> None:
        await ApiKeyService(caller).revoke(key_id)
