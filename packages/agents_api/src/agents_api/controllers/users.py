from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.db import Connection
from agents_core.principal import Principal
from agents_core.schemas import UserCreate, UserPublic, UserUpdate
from agents_core.users.service import UserService


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
        conn: NamedDependency[Connection],
    ) -> UserPublic:
        return await UserService(conn).create(principal.organization_id, data)

    @get("/", summary="List the organization's users", responses=problems(401, 403))
    async def list_users(
        self, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> list[UserPublic]:
        return await UserService(conn).list(principal.organization_id)

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
        conn: NamedDependency[Connection],
    ) -> UserPublic:
        return await UserService(conn).update(principal.organization_id, user_id, data)
