"""Releases: immutable sets of agents pinned at versions, closed under handoff."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, Parameter, PathParameter
from litestar.status_codes import HTTP_201_CREATED

from agents_api.controllers.agents import MAX_INT32
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.db import Connection
from agents_core.principal import Principal
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
        operation_id="createRelease",
    )
    async def create(
        self,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        data: JSONBody[ReleaseCreate | None] = None,
    ) -> Response[Release]:
        release = await ReleaseService(conn).create(
            principal.organization_id, data or ReleaseCreate(), actor_id=principal.actor_id
        )
        return Response(
            release,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"{self.path}/{release.number}"},
        )

    @get(
        "/",
        summary="List the organization's releases, newest first",
        description="The header `X-Total-Count` holds the number of releases.",
        responses=problems(400, 401),
        operation_id="listReleases",
    )
    async def list_releases(
        self,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        limit: Annotated[int, Parameter(ge=1, le=500, description="Page size")] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_INT32, description="Rows to skip")] = 0,
    ) -> Response[list[Release]]:
        page = await ReleaseService(conn).page(
            principal.organization_id, limit=limit, offset=offset
        )
        return Response(page.items, headers={"X-Total-Count": str(page.total)})

    @get(
        "/{number:int}",
        summary="Get a release",
        responses=problems(400, 401, 404),
        operation_id="getRelease",
    )
    async def get_release(
        self,
        number: ReleaseNumber,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> Release:
        return await ReleaseService(conn).get(principal.organization_id, number)

    @get(
        "/{number:int}/agents/{agent_id:uuid}",
        summary="Get an agent's configuration as a release pins it",
        description="Also after the agent has changed or been deleted.",
        responses=problems(400, 401, 404),
        operation_id="getReleasedAgent",
    )
    async def get_released_agent(
        self,
        number: ReleaseNumber,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> ReleasedAgent:
        return await ReleaseService(conn).agent(principal.organization_id, number, agent_id)

    @get(
        "/{number:int}/diff/{base:int}",
        summary="Compare a release with another, agent by agent",
        responses=problems(400, 401, 404),
        operation_id="diffReleases",
    )
    async def diff_releases(
        self,
        number: ReleaseNumber,
        base: Annotated[
            int, PathParameter(ge=1, le=MAX_INT32, description="The release compared against")
        ],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> ReleaseDiff:
        return await ReleaseService(conn).diff(principal.organization_id, number, base)
