"""Releases: immutable sets of agents pinned at versions, closed under handoff."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter

from agents_api.controllers.parameters import MAX_INT32, Limit, Offset
from agents_api.controllers.responses import counted, created
from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.releases.service import ReleaseService
from agents_core.schemas import Release, ReleaseCreate, ReleasedAgent, ReleaseDiff

__all__ = ["ReleaseController", "ReleaseNumber"]

ReleaseNumber = Annotated[int, PathParameter(ge=1, le=MAX_INT32, description="Release number")]


class ReleaseController(Controller):
    path = "/api/v1/releases"
    tags = ["releases"]

    @post(
        "/",
        guards=[requires_admin],
        summary="Release agents at their current versions",
        description="Without `agents`: every active agent. With `agents`: those agents and "
        "every agent reachable from them through handoff targets (the release is closed under "
        "handoff). Numbers count the organization's releases from 1, without gaps. No body is "
        "the same as `{}`.",
        responses=problems(400, 401, 403),
    )
    async def create_release(
        self, caller: NamedDependency[Caller], data: JSONBody[ReleaseCreate | None] = None
    ) -> Response[Release]:
        release = await ReleaseService(caller).create(data or ReleaseCreate())
        return created(release, f"{self.path}/{release.number}")

    @get(
        "/",
        summary="List the organization's releases, newest first",
        description="The header `X-Total-Count` holds the number of releases.",
        responses=problems(400, 401),
    )
    async def list_releases(
        self, caller: NamedDependency[Caller], limit: Limit = 100, offset: Offset = 0
    ) -> Response[list[Release]]:
        page = await ReleaseService(caller).page(limit=limit, offset=offset)
        return counted(page)

    @get("/{number:int}", summary="Get a release", responses=problems(400, 401, 404))
    async def get_release(self, number: ReleaseNumber, caller: NamedDependency[Caller]) -> Release:
        return await ReleaseService(caller).get(number)

    @get(
        "/{number:int}/agents/{agent_id:uuid}",
        summary="Get an agent's configuration as a release pins it",
        description="Also after the agent has changed or been deleted.",
        responses=problems(400, 401, 404),
    )
    async def get_released_agent(
        self, number: ReleaseNumber, agent_id: FromPath[UUID], caller: NamedDependency[Caller]
    ) -> ReleasedAgent:
        return await ReleaseService(caller).agent(number, agent_id)

    @get(
        "/{number:int}/diff/{base:int}",
        summary="Compare a release with another, agent by agent",
        responses=problems(400, 401, 404),
    )
    async def diff_releases(
        self,
        number: ReleaseNumber,
        base: Annotated[
            int, PathParameter(ge=1, le=MAX_INT32, description="The release compared against")
        ],
        caller: NamedDependency[Caller],
    ) -> ReleaseDiff:
        return await ReleaseService(caller).diff(number, base)
