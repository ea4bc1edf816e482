from __future__ import annotations

from uuid import UUID

from litestar import Controller, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.api_keys.service import ApiKeyService, api_key_public
from agents_core.db.database import Database
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
    )
    async def create(
        self,
        data: JSONBody[ApiKeyCreate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> ApiKeyCreated:
        async with database.session() as session:
            return await ApiKeyService(session).create(
                principal.organization_id, data, created_by=principal.user_id
            )

    @get(
        "/",
        operation_id="listApiKeys",
        summary="List the organization's active API keys",
        responses=problems(401, 403),
    )
    async def list_keys(
        self, principal: NamedDependency[Principal], database: NamedDependency[Database]
    ) -> list[ApiKeyPublic]:
        async with database.session() as session:
            keys = await ApiKeyService(session).list(principal.organization_id)
            return [api_key_public(k) for k in keys]

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
        database: NamedDependency[Database],
    ) -> None:
        async with database.session() as session:
            await ApiKeyService(session).revoke(principal.organization_id, key_id)
