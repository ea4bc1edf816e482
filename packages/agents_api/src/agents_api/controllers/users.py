from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.db.database import Database
from agents_core.principal import Principal
from agents_core.schemas import UserCreate, UserPublic, UserUpdate
from agents_core.users.service import UserService, user_public


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    guards = [requires_admin]

    @post(
        "/",
        operation_id="createUser",
        summary="Add a user to the organization",
        responses=problems(400, 401, 403, 409),
    )
    async def create(
        self,
        data: JSONBody[UserCreate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> UserPublic:
        async with database.session() as session:
            user = await UserService(session).create(principal.organization_id, data)
            return user_public(user)

    @get("/", summary="List the organization's users", responses=problems(401, 403))
    async def list_users(
        self, principal: NamedDependency[Principal], database: NamedDependency[Database]
    ) -> list[UserPublic]:
        async with database.session() as session:
            users = await UserService(session).list(principal.organization_id)
            return [user_public(u) for u in users]

    @patch(
        "/{user_id:uuid}",
        operation_id="updateUser",
        summary="Change a user's role, active state or name",
        responses=problems(400, 401, 403, 404, 409),
    )
    async def update(
        self,
        user_id: FromPath[UUID],
        data: JSONBody[UserUpdate],
        principal: NamedDependency[Principal],
        database: NamedDependency[Database],
    ) -> UserPublic:
        async with database.session() as session:
            user = await UserService(session).update(principal.organization_id, user_id, data)
            return user_public(user)
