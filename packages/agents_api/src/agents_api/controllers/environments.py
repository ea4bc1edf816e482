"""Environments: named pointers at releases (with a canary), their moves and history, and the
agent an environment serves to a call."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, Response, delete, get, post, put
from litestar.datastructures import ResponseHeader
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, JSONBody, Parameter, PathParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agents_api.controllers.parameters import IfMatchRevision, Limit, Offset, expected_version
from agents_api.controllers.responses import counted, tagged
from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_api.write_gates import WRITES
from agents_core.environments.service import EnvironmentService
from agents_core.errors import RevisionMismatch, VersionMismatch
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


def expected_revision(if_match: str | None) -> int | None:
    """The revision an ``If-Match`` header asks for (a value that names none matches none)."""
    try:
        return expected_version(if_match)
    except VersionMismatch:
        raise RevisionMismatch(
            f"If-Match {if_match!r} does not name a revision of this environment"
        ) from None


_MOVE_RESPONSES = {
    **problems(400, 401, 403, 404, 412),
    HTTP_201_CREATED: ResponseSpec(
        data_container=Environment, description="Created: the environment did not exist before"
    ),
}
"""A move that creates the environment when it is new answers 201."""


def _tagged(environment: Environment, created: bool = False) -> Response[Environment]:
    status = HTTP_201_CREATED if created else HTTP_200_OK
    return tagged(environment, environment.revision, status)


class EnvironmentController(Controller):
    path = "/api/v1/environments"
    tags = ["environments"]

    @get("/", summary="List the organization's environments, by name", responses=problems(401))
    async def list_environments(self, caller: NamedDependency[Caller]) -> list[Environment]:
        return await EnvironmentService(caller).list()

    @get(
        "/{name:str}",
        summary="Get an environment",
        description="`ETag` is its revision.",
        responses=problems(400, 401, 404),
    )
    async def get_environment(
        self, name: Name, caller: NamedDependency[Caller]
    ) -> Response[Environment]:
        environment = await EnvironmentService(caller).get(name)
        return _tagged(environment)

    @put(
        "/{name:str}",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        summary="Deploy: point an environment at a release (and a canary), creating it if new",
        description="201 when it creates the environment, 200 when it moves it. A request that "
        "changes nothing answers 200 with the same revision and adds no history.",
        responses=_MOVE_RESPONSES,
    )
    async def put_environment(
        self,
        name: NewName,
        data: JSONBody[EnvironmentPut],
        caller: NamedDependency[Caller],
        if_match: IfMatchRevision = None,
    ) -> Response[Environment]:
        environment, created = await EnvironmentService(caller).put(
            name, data, expected_revision=expected_revision(if_match)
        )
        return _tagged(environment, created)

    @delete(
        "/{name:str}",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        summary="Delete an environment and its history",
        responses=problems(400, 401, 403, 404, 412),
    )
    async def delete_environment(
        self, name: Name, caller: NamedDependency[Caller], if_match: IfMatchRevision = None
    ) -> None:
        await EnvironmentService(caller).delete(name, expected_revision=expected_revision(if_match))

    @post(
        "/{name:str}/promote",
        guards=[requires_admin],
        opt=WRITES_ENVIRONMENT,
        status_code=HTTP_200_OK,
        summary="Promote: take the release another environment serves (canary cleared)",
        description="200, or 201 when it creates the environment.",
        responses=_MOVE_RESPONSES,
    )
    async def promote_environment(
        self,
        name: NewName,
        data: JSONBody[EnvironmentPromote],
        caller: NamedDependency[Caller],
        if_match: IfMatchRevision = None,
    ) -> Response[Environment]:
        environment, created = await EnvironmentService(caller).promote(
            name, data.from_, expected_revision=expected_revision(if_match)
        )
        return _tagged(environment, created)

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
    )
    async def rollback_environment(
        self,
        name: Name,
        caller: NamedDependency[Caller],
        data: JSONBody[EnvironmentRollback | None] = None,
        if_match: IfMatchRevision = None,
    ) -> Response[Environment]:
        environment = await EnvironmentService(caller).rollback(
            name,
            None if data is None else data.release,
            expected_revision=expected_revision(if_match),
        )
        return _tagged(environment)

    @get(
        "/{name:str}/history",
        summary="List an environment's moves, newest first",
        description="The header `X-Total-Count` holds the number of moves.",
        responses=problems(400, 401, 404),
    )
    async def list_environment_history(
        self, name: Name, caller: NamedDependency[Caller], limit: Limit = 100, offset: Offset = 0
    ) -> Response[list[EnvironmentMove]]:
        page = await EnvironmentService(caller).history(name, limit=limit, offset=offset)
        return counted(page)

    @get(
        "/{name:str}/agents/{agent_id:uuid}",
        summary="Resolve an agent for a call: its configuration in the release serving it",
        description="With a canary, the call goes to the canary release when "
        '`int.from_bytes(sha256(f"{name}:{call_id}".encode()).digest()[:8], "big") % 100 '
        "< weight`, else (and always without `call_id`) to the environment's release. The "
        "header `X-Release` holds the release's number.",
        responses=problems(400, 401, 404),
        response_headers=[
            ResponseHeader(
                name="X-Release",
                description="The release serving the call",
                documentation_only=True,
            )
        ],
    )
    async def resolve_agent(
        self,
        name: Name,
        agent_id: FromPath[UUID],
        caller: NamedDependency[Caller],
        call_id: Annotated[
            str | None,
            Parameter(min_length=1, max_length=255, description="The call being served"),
        ] = None,
    ) -> Response[ReleasedAgent]:
        released = await EnvironmentService(caller).resolve(name, agent_id, call_id=call_id)
        return Response(released, headers={"X-Release": str(released.release)})
