from __future__ import annotations

from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.api_keys.service import ApiKeyService
from agents_core.db import Connection
from agents_core.principal import Principal
from agents_core.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api-keys"]
    guards = [requires_admin]

    @post(
        "/",
        operation_id="createApiKey",
        summary="Create an API key (the key is shown only in this response)",
        responses=problems(400, 401, 403),
        # The answer carries the key: no cache keeps it.
        cache_control=CacheControlHeader(no_store=True),
    )
    async def create(
        self,
        data: JSONBody[ApiKeyCreate],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> ApiKeyCreated:
        return await ApiKeyService(conn).create(
            principal.organization_id, data, created_by=principal.user_id
        )

    @get(
        "/",
        operation_id="listApiKeys",
        summary="List the organization's active API keys",
        responses=problems(401, 403),
    )
    async def list_keys(
        self, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> list[ApiKeyPublic]:
        return await ApiKeyService(conn).list(principal.organization_id)

    @delete(
        "/{key_id:uuid}",
        operation_id="revokeApiKey",
        summary="Revoke an API key; it stops working at once",
        responses=problems(400, 401, 403, 404),
    )
    async def revoke(
        self,
        key_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> None:
        await ApiKeyService(conn).revoke(principal.organization_id, key_id)
