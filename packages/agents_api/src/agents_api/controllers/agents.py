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
    QueryParameter,
)
from litestar.status_codes import HTTP_304_NOT_MODIFIED

from agents_api.controllers.parameters import (
    MAX_INT32,
    IfMatchVersion,
    Limit,
    Offset,
    etag,
    etag_values,
    expected_version,
)
from agents_api.controllers.responses import counted, created, tagged
from agents_api.dependencies import Caller
from agents_api.openapi import operation_ids, problems
from agents_api.security import requires_admin
from agents_api.write_gates import WRITES
from agents_core.agents.service import AgentService
from agents_core.errors import InvalidInput
from agents_core.schemas import (
    AgentCreate,
    AgentDiff,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    FieldError,
)

WRITES_AGENT = {WRITES: "agent_id"}
"""Routes that lock one agent's row queue per agent in the process (see ``write_gates``)."""

AgentId = FromPath[UUID]
VersionNumber = Annotated[int, Parameter(ge=1, le=MAX_INT32, description="Version number")]


def _check_text_param(name: str, value: str | None) -> None:
    if value is not None and "\x00" in value:
        raise InvalidInput(
            f"{name} must not contain NUL characters",
            errors=[FieldError(field=name, message="must not contain NUL characters")],
        )


def _tagged(agent: AgentPublic) -> Response[AgentPublic]:
    return tagged(agent, agent.current_version)


class AgentController(Controller):
    path = "/api/v1/agents"
    tags = ["agents"]

    @post(
        "/",
        guards=[requires_admin],
        summary="Create an agent",
        responses=problems(400, 401, 403, 409),
        response_headers=None,
    )
    async def create_agent(
        self, data: JSONBody[AgentCreate], caller: NamedDependency[Caller]
    ) -> Response[AgentPublic]:
        agent = await AgentService(caller).create(data)
        return created(agent, f"{self.path}/{agent.id}", agent.current_version)

    @get(
        "/",
        summary="List the organization's active agents, newest first",
        description="The header `X-Total-Count` holds the number of matching agents.",
        responses=problems(400, 401),
    )
    async def list_agents(
        self,
        caller: NamedDependency[Caller],
        limit: Limit = 100,
        offset: Offset = 0,
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
        page = await AgentService(caller).page(
            limit=limit, offset=offset, q=q, modality=modality, tool=tool
        )
        return counted(page)

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
        agent_id: AgentId,
        caller: NamedDependency[Caller],
        if_none_match: Annotated[
            str | None, HeaderParameter(name="If-None-Match", required=False)
        ] = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(caller).get(agent_id)
        if if_none_match is not None and (
            if_none_match.strip() == "*" or str(agent.current_version) in etag_values(if_none_match)
        ):
            return Response(
                None,  # type: ignore[arg-type]
                status_code=HTTP_304_NOT_MODIFIED,
                headers={"ETag": etag(agent.current_version)},
            )
        return _tagged(agent)

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
        agent_id: AgentId,
        data: JSONBody[AgentUpdate],
        caller: NamedDependency[Caller],
        if_match: IfMatchVersion = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(caller).update(
            agent_id, data, expected_version=expected_version(if_match)
        )
        return _tagged(agent)

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
        self, agent_id: AgentId, caller: NamedDependency[Caller], force: FromQuery[bool] = False
    ) -> None:
        await AgentService(caller).delete(agent_id, force=force)

    @get(
        "/{agent_id:uuid}/versions",
        summary="List an agent's saved versions, newest first",
        responses=problems(400, 401, 404),
    )
    async def list_agent_versions(
        self, agent_id: AgentId, caller: NamedDependency[Caller]
    ) -> list[AgentVersionPublic]:
        return await AgentService(caller).versions(agent_id)

    @get(
        "/{agent_id:uuid}/diff",
        summary="Compare two versions of an agent, field by field",
        description="The configuration fields that differ between version `from` and version "
        "`to` (default: the current version, the agent's live configuration), in snapshot "
        "order; `before` is the value at `from`.",
        responses=problems(400, 401, 404),
    )
    async def diff_agent_versions(
        self,
        agent_id: AgentId,
        caller: NamedDependency[Caller],
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
        return await AgentService(caller).diff(agent_id, from_, to)

    @get(
        "/{agent_id:uuid}/versions/{version:int}",
        summary="Get one saved version of an agent",
        responses=problems(400, 401, 404),
    )
    async def get_agent_version(
        self, agent_id: AgentId, version: VersionNumber, caller: NamedDependency[Caller]
    ) -> AgentVersionPublic:
        return await AgentService(caller).version(agent_id, version)

    @post(
        "/{agent_id:uuid}/versions/{version:int}/restore",
        guards=[requires_admin],
        opt=WRITES_AGENT,
        status_code=200,
        summary="Restore a saved version (the replaced configuration is saved first)",
        responses=problems(400, 401, 403, 404, 409, 412),
    )
    async def restore_agent_version(
        self,
        agent_id: AgentId,
        version: VersionNumber,
        caller: NamedDependency[Caller],
        if_match: IfMatchVersion = None,
    ) -> Response[AgentPublic]:
        agent = await AgentService(caller).restore(
            agent_id, version, expected_version=expected_version(if_match)
        )
        return _tagged(agent)

    @post(
        "/{agent_id:uuid}/duplicate",
        guards=[requires_admin],
        summary="Duplicate an agent as a new agent named '<name> (Copy)'",
        responses=problems(400, 401, 403, 404, 409),
    )
    async def duplicate_agent(
        self, agent_id: AgentId, caller: NamedDependency[Caller]
    ) -> Response[AgentPublic]:
        agent = await AgentService(caller).duplicate(agent_id)
        return created(agent, f"{self.path}/{agent.id}", agent.current_version)
