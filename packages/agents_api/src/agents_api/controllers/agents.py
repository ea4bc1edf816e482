from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, route
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    Parameter,
    PathParameter,
    QueryParameter,
)
from litestar.status_codes import HTTP_201_CREATED, HTTP_304_NOT_MODIFIED

from agents_api.openapi import operation_ids, problems
from agents_api.security import requires_admin
from agents_api.write_gates import WRITES
from agents_core.agents.service import AgentService
from agents_core.db import Connection
from agents_core.errors import InvalidInput, VersionMismatch
from agents_core.principal import Principal
from agents_core.schemas import (
    AgentCreate,
    AgentDiff,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    FieldError,
)

MAX_INT32 = 2**31 - 1
"""Largest version number and offset: what the database's integer parameters hold."""
WRITES_AGENT = {WRITES: "agent_id"}
"""Routes that lock one agent's row queue per agent in the process (see ``write_gates``)."""

IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='Only apply when the agent is at this version, e.g. `"3"` (its `ETag`)',
    ),
]
VersionNumber = Annotated[int, PathParameter(ge=1, le=MAX_INT32, description="Version number")]


def etag(version: int) -> str:
    return f'"{version}"'


def _etag_values(header: str) -> list[str]:
    return [v.strip().removeprefix("W/").strip('"') for v in header.split(",")]


def expected_version(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header asks for; a value that names no version can match
    nothing, so it fails as a mismatch."""
    if if_match is None or if_match.strip() == "*":
        return None
    for value in _etag_values(if_match):
        if value.isdigit() and len(value) <= 10:
            return int(value)
    raise VersionMismatch(f"If-Match {if_match!r} does not name a version of this agent")


def _agent_response(agent: AgentPublic, status: int = 200) -> Response[AgentPublic]:
    return Response(agent, status_code=status, headers={"ETag": etag(agent.current_version)})


def _check_text_param(name: str, value: str | None) -> None:
    if value is not None and "\x00" in value:
        raise InvalidInput(
            f"{name} must not contain NUL characters",
            errors=[FieldError(field=name, message="must not contain NUL characters")],
        )


class AgentController(Controller):
    path = "/api/v1/agents"
    tags = ["agents"]

    @post(
        "/",
        guards=[requires_admin],
        operation_id="createAgent",
        summary="Create an agent",
        responses=problems(400, 401, 403, 409),
        response_headers=None,
    )
    async def create(
        self,
        data: JSONBody[AgentCreate],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> Response[AgentPublic]:
        agent = await AgentService(conn).create(
            principal.organization_id, data, actor_id=principal.actor_id
        )
        response = _agent_response(agent, HTTP_201_CREATED)
        response.headers["Location"] = f"{self.path}/{agent.id}"
        return response

    @get(
        "/",
        summary="List the organization's active agents, newest first",
        description="The header `X-Total-Count` holds the number of matching agents.",
        responses=problems(400, 401),
    )
    async def list_agents(
        self,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        limit: Annotated[int, Parameter(ge=1, le=500, description="Page size")] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_INT32, description="Rows to skip")] = 0,
        q: Annotated[
            str | None,
            Parameter(max_length=255, description="Case-insensitive substring of the name"),
        ] = None,
        modality: FromQuery[AgentModality | None] = None,
        tool: Annotated[
            str | None, Parameter(max_length=255, description="Agents that have this tool")
        ] = None,
    ) -> Response[list[AgentPublic]]:
        _check_text_param("q", q)
        _check_text_param("tool", tool)
        page = await AgentService(conn).page(
            principal.organization_id,
            limit=limit,
            offset=offset,
            q=q,
            modality=modality,
            tool=tool,
        )
        return Response(page.items, headers={"X-Total-Count": str(page.total)})

    @get(
        "/{agent_id:uuid}",
        summary="Get an agent",
        description="`ETag` is the current version; `If-None-Match` with it gives 304.",
        responses={
            **problems(400, 401, 404),
            304: ResponseSpec(
                data_container=None,
                description="Not modified: `If-None-Match` names the current version",
            ),
        },
    )
    async def get_agent(
        self,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", required=False)
        ] = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(conn).get(principal.organization_id, agent_id)
        tag = str(agent.current_version)
        if if_none_match is not None and (
            if_none_match.strip() == "*" or tag in _etag_values(if_none_match)
        ):
            return Response(
                None,  # type: ignore[arg-type]
                status_code=HTTP_304_NOT_MODIFIED,
                headers={"ETag": etag(agent.current_version)},
            )
        return _agent_response(agent)

    @route(
        "/{agent_id:uuid}",
        http_method=["PUT", "PATCH"],
        guards=[requires_admin],
        opt=WRITES_AGENT,
        operation_id=operation_ids(PUT="updateAgent", PATCH="patchAgent"),
        summary="Update an agent (partial; each change becomes a new version)",
        responses=problems(400, 401, 403, 404, 409, 412),
    )
    async def update(
        self,
        agent_id: FromPath[UUID],
        data: JSONBody[AgentUpdate],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_match: IfMatch = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(conn).update(
            principal.organization_id,
            agent_id,
            data,
            expected_version=expected_version(if_match),
            actor_id=principal.actor_id,
        )
        return _agent_response(agent)

    @delete(
        "/{agent_id:uuid}",
        guards=[requires_admin],
        opt=WRITES_AGENT,
        summary="Delete an agent (soft)",
        description="409 `agent_referenced` when other active agents hand off to it, unless "
        "`force=true`, which also removes it from their handoff targets (each a new version).",
        responses=problems(400, 401, 403, 404, 409),
    )
    async def delete_agent(
        self,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        force: FromQuery[bool] = False,
    ) -> None:
        await AgentService(conn).delete(
            principal.organization_id, agent_id, force=force, actor_id=principal.actor_id
        )

    @get(
        "/{agent_id:uuid}/versions",
        operation_id="listAgentVersions",
        summary="List an agent's saved versions, newest first",
        responses=problems(400, 401, 404),
    )
    async def list_versions(
        self,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> list[AgentVersionPublic]:
        return await AgentService(conn).versions(principal.organization_id, agent_id)

    @get(
        "/{agent_id:uuid}/diff",
        summary="Compare two versions of an agent, field by field",
        description="The configuration fields that differ between version `from` and version "
        "`to` (default: the current version, the agent's live configuration), in snapshot "
        "order; `before` is the value at `from`.",
        responses=problems(400, 401, 404),
        operation_id="diffAgentVersions",
    )
    async def diff(
        self,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        from_: Annotated[
            int,
            QueryParameter(name="from", ge=-MAX_INT32 - 1, le=MAX_INT32, description="A version"),
        ],
        to: Annotated[
            int | None,
            Parameter(
                ge=-MAX_INT32 - 1,
                le=MAX_INT32,
                description="Another version (default: the current one)",
            ),
        ] = None,
    ) -> AgentDiff:
        return await AgentService(conn).diff(principal.organization_id, agent_id, from_, to)

    @get(
        "/{agent_id:uuid}/versions/{version:int}",
        operation_id="getAgentVersion",
        summary="Get one saved version of an agent",
        responses=problems(400, 401, 404),
    )
    async def get_version(
        self,
        agent_id: FromPath[UUID],
        version: VersionNumber,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> AgentVersionPublic:
        return await AgentService(conn).version(principal.organization_id, agent_id, version)

    @post(
        "/{agent_id:uuid}/versions/{version:int}/restore",
        guards=[requires_admin],
        opt=WRITES_AGENT,
        operation_id="restoreAgentVersion",
        status_code=200,
        summary="Restore a saved version (the replaced configuration is saved first)",
        responses=problems(400, 401, 403, 404, 409, 412),
    )
    async def restore(
        self,
        agent_id: FromPath[UUID],
        version: VersionNumber,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_match: IfMatch = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(conn).restore(
            principal.organization_id,
            agent_id,
            version,
            expected_version=expected_version(if_match),
            actor_id=principal.actor_id,
        )
        return _agent_response(agent)

    @post(
        "/{agent_id:uuid}/duplicate",
        guards=[requires_admin],
        operation_id="duplicateAgent",
        summary="Duplicate an agent as a new agent named '<name> (Copy)'",
        responses=problems(400, 401, 403, 404, 409),
    )
    async def duplicate(
        self,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
    ) -> Response[AgentPublic]:
        agent = await AgentService(conn).duplicate(
            principal.organization_id, agent_id, actor_id=principal.actor_id
        )
        response = _agent_response(agent, HTTP_201_CREATED)
        response.headers["Location"] = f"{self.path}/{agent.id}"
        return response
