"""Export and bulk import of an organization's agents (portable, handoffs by name)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, QueryParameter
from litestar.response import Stream

from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.agents.service import AgentService
from agents_core.schemas import AgentExport, AgentImportRequest, AgentImportResult

__all__ = ["AgentTransferController"]


class AgentTransferController(Controller):
    """Static paths under ``/api/v1/agents``; they take precedence over ``/{agent_id:uuid}``
    (Litestar matches static segments before parameters, and neither is a UUID anyway)."""

    path = "/api/v1/agents"
    tags = ["agents"]
    guards = [requires_admin]

    @get(
        "/export",
        summary="Export every active agent (portable: no ids, handoff targets as names)",
        description="Streamed as it is read, from one snapshot of the organization: the "
        "server's memory does not grow with the organization's size.",
        responses={
            200: ResponseSpec(
                data_container=list[AgentExport],
                description="Every active agent, oldest first",
                generate_examples=False,
            ),
            **problems(401, 403),
        },
    )
    async def export_agents(self, caller: NamedDependency[Caller]) -> Stream:
        chunks = AgentService(caller).export_chunks()
        # The first chunk is read before the answer starts, so that a database that does not
        # answer is still a 503, not a 200 cut short.
        try:
            first = await anext(chunks, None)
        except BaseException:
            await chunks.aclose()
            raise
        return Stream(_json_array(first, chunks), media_type="application/json")

    @post(
        "/import",
        status_code=200,
        summary="Import agents in bulk, all or nothing",
        description="Items whose name is taken by an active agent (or an earlier item) are "
        "skipped. Handoff names resolve against the organization's active agents and the whole "
        "batch; a name held by a skipped item resolves to the existing agent of that name. Any "
        "invalid item fails the batch (400, `errors` name `agents[<index>].<field>`) and nothing "
        "is created. `dry_run=true` validates and reports without writing.",
        responses=problems(400, 401, 403, 409),
    )
    async def import_agents(
        self,
        data: JSONBody[AgentImportRequest],
        caller: NamedDependency[Caller],
        dry_run: Annotated[
            bool, QueryParameter(description="Validate and report without writing anything")
        ] = False,
    ) -> AgentImportResult:
        return await AgentService(caller).import_agents(data.agents, dry_run=dry_run)


_ENCODER = msgspec.json.Encoder()


async def _json_array(
    first: list[AgentExport] | None, rest: AsyncGenerator[list[AgentExport], None]
) -> AsyncIterator[bytes]:
    """The chunks as one JSON array, each chunk encoded alone (its brackets dropped)."""
    try:
        if not first:
            yield b"[]"
            return
        yield b"[" + _ENCODER.encode(first)[1:-1]
        async for chunk in rest:
            yield b"," + _ENCODER.encode(chunk)[1:-1]
        yield b"]"
    finally:
        await rest.aclose()
