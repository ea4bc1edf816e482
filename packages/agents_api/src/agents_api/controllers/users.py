from __future__ import annotations

from uuid import UUID

from litestar import Controller, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.schemas import UserCreate, UserPublic, UserUpdate
from agents_core.users.service import UserService


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]
    guards = [requires_admin]

    @post("/", summary="Add a user to the organization", responses=problems(400, 401, 403, 409))
    async def create_user(
        self, data: JSONBody[UserCreate], caller: NamedDependency[Caller]
    ) -> UserPublic:
        return await UserService(caller).create(data)

    @get("/", summary="List the organization's users", responses=problems(401, 403))
    async def list_users(self, caller: NamedDependency[Caller]) -> list[UserPublic]:
        return await UserService(caller).list()

    @patch(
        "/{user_id:uuid}",
        summary="Change a user's role, active state or name",
        responses=problems(400, 401, 403, 404, 409),
    )
    async def update_user(
        self, user_id: FromPath[UUID], data: JSONBody[UserUpdate], caller: NamedDependency[Caller]
    ) -> UserPublic:
        return await UserService(caller).update(user_id, data)
