"""Environments: named pointers at releases (with a canary), their moves and history, and the
agent an environment serves to a call."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, HeaderParameter, JSONBody, Parameter, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agents_api.controllers.agents import MAX_INT32, etag, expected_version
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_api.write_gates import WRITES
from agents_core.db import Connection
from agents_core.environments.service import EnvironmentService
from agents_core.errors import RevisionMismatch, VersionMismatch
from agents_core.principal import Principal
from agents_core.schemas import (
    ENVIRONMENT_NAME_PATTERN,
    Environment,
    EnvironmentMove,
    EnvironmentPromote,
    EnvironmentPut,
    EnvironmentRollback,
    ReleasedAgent,
)

__all__ = ["EnvironmentController"]

WRITES_ENVIRONMENT = {WRITES: "name"}
"""Routes that lock one environment's row queue per environment name in the process."""

Name = Annotated[str, PathParameter(max_length=255, description="The environment's name")]
NewName = Annotated[
    str,
    PathParameter(
        pattern=ENVIRONMENT_NAME_PATTERN,
        description="The environment's name (created if new)",
    ),
]
"""The name on the routes that can create the environment: it must be a valid one."""
IfMatch = Annotated[
    str | None,
    HeaderParameter(
        name="If-Match",
        required=False,
        description='Only apply when the environment is at this revision, e.g. `"3"` (its `ETag`)',
    ),
]


def expected_revision(if_match: str | None) -> int | None:
    """The revision an ``If-Match`` header asks for (a value that names none matches none)."""
    try:
        return expected_version(if_match)
    except VersionMismatch:
        raise RevisionMismatch(
            f"If-Match {if_match!r} does not name a revision of this environment"
        ) from None


_CREATED = ResponseSpec(
    data_container=Environment, description="Created: the environment did not exist before"
)


def _environment_response(environment: Environment, created: bool = False) -> Response[Environment]:
    return Response(
        environment,
        status_code=HTTP_201_CREATED if created else HTTP_200_OK,
        headers={"ETag": etag(environment.revision)},
    )


class EnvironmentController(Controller):
    path = "/api/v1/environments"
    tags = ["environments"]

    @get(
        "/",
        summary="List the organization's environments, by name",
        responses=problems(401),
        operation_id="listEnvironments",
    )
    async def list_environments(
        self, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> list[Environment]:
        return await EnvironmentService(conn).list(principal.organization_id)

    @get(
        "/{name:str}",
        summary="Get an environment",
        description="`ETag` is its revision.",
        responses=problems(400, 401, 404),
        operation_id="getEnvironment",
    )
    async def get_environment(
        self, name: Name, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> Response[Environment]:
        environment = await EnvironmentService(conn).get(principal.organization_id, name)
        return _environment_response(environment)

    @put(
        "/{name:str}",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        summary="Deploy: point an environment at a release (and a canary), creating it if new",
        description="201 when it creates the environment, 200 when it moves it. A request that "
        "changes nothing answers 200 with the same revision and adds no history.",
        responses={
            **problems(400, 401, 403, 404, 412),
            HTTP_201_CREATED: _CREATED,
        },
        operation_id="putEnvironment",
    )
    async def put_environment(
        self,
        name: NewName,
        data: JSONBody[EnvironmentPut],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_match: IfMatch = None,
    ) -> Response[Environment]:
        environment, created = await EnvironmentService(conn).put(
            principal.organization_id,
            name,
            data,
            expected_revision=expected_revision(if_match),
            actor_id=principal.actor_id,
        )
        return _environment_response(environment, created)

    @delete(
        "/{name:str}",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        summary="Delete an environment and its history",
        responses=problems(400, 401, 403, 404, 412),
        operation_id="deleteEnvironment",
    )
    async def delete_environment(
        self,
        name: Name,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_match: IfMatch = None,
    ) -> None:
        await EnvironmentService(conn).delete(
            principal.organization_id,
            name,
            expected_revision=expected_revision(if_match),
            actor_id=principal.actor_id,
        )

    @post(
        "/{name:str}/promote",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        status_code=HTTP_200_OK,
        summary="Promote: take the release another environment serves (canary cleared)",
        description="200, or 201 when it creates the environment.",
        responses={
            **problems(400, 401, 403, 404, 412),
            HTTP_201_CREATED: _CREATED,
        },
        operation_id="promoteEnvironment",
    )
    async def promote(
        self,
        name: NewName,
        data: JSONBody[EnvironmentPromote],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        if_match: IfMatch = None,
    ) -> Response[Environment]:
        environment, created = await EnvironmentService(conn).promote(
            principal.organization_id,
            name,
            data.from_,
            expected_revision=expected_revision(if_match),
            actor_id=principal.actor_id,
        )
        return _environment_response(environment, created)

    @post(
        "/{name:str}/rollback",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        status_code=HTTP_200_OK,
        summary="Roll back to the release served before (or to a given one); canary cleared",
        description="Without `release`, or without a body: the latest release it served that "
        "differs from the current one (so twice in a row toggles). With `release`: one it "
        "served before, else 400 `not_in_history`. Nothing to go back to: 409.",
        responses=problems(400, 401, 403, 404, 409, 412),
        operation_id="rollbackEnvironment",
    )
    async def rollback(
        self,
        name: Name,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        data: JSONBody[EnvironmentRollback | None] = None,
        if_match: IfMatch = None,
    ) -> Response[Environment]:
        environment = await EnvironmentService(conn).rollback(
            principal.organization_id,
            name,
            None if data is None else data.release,
            expected_revision=expected_revision(if_match),
            actor_id=principal.actor_id,
        )
        return _environment_response(environment)

    @get(
        "/{name:str}/history",
        summary="List an environment's moves, newest first",
        description="The header `X-Total-Count` holds the number of moves.",
        responses=problems(400, 401, 404),
        operation_id="listEnvironmentHistory",
    )
    async def history(
        self,
        name: Name,
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        limit: Annotated[int, Parameter(ge=1, le=500, description="Page size")] = 100,
        offset: Annotated[int, Parameter(ge=0, le=MAX_INT32, description="Rows to skip")] = 0,
    ) -> Response[list[EnvironmentMove]]:
        page = await EnvironmentService(conn).history(
            principal.organization_id, name, limit=limit, offset=offset
        )
        return Response(page.items, headers={"X-Total-Count": str(page.total)})

    @get(
        "/{name:str}/agents/{agent_id:uuid}",
        summary="Resolve an agent for a call: its configuration in the release serving it",
        description="With a canary, the call goes to the canary release when "
        '`int.from_bytes(sha256(f"{name}:{call_id}".encode()).digest()[:8], "big") % 100 '
        "< weight`, else (and always without `call_id`) to the environment's release. The "
        "header `X-Release` holds the release's number.",
        responses=problems(400, 401, 404),
        operation_id="resolveAgent",
        response_headers=[
            ResponseHeader(
                name="X-Release",
                description="The release serving the call",
                documentation_only=True,
            )
        ],
    )
    async def resolve(
        self,
        name: Name,
        agent_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        call_id: Annotated[
            str | None,
            Parameter(min_length=1, max_length=255, description="The call being served"),
        ] = None,
    ) -> Response[ReleasedAgent]:
        released = await EnvironmentService(conn).resolve(
            principal.organization_id, name, agent_id, call_id=call_id
        )
        return Response(released, headers={"X-Release": str(released.release)})
