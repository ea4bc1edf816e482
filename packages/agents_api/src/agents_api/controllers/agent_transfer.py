"""Export and bulk import of an organization's agents (portable, handoffs by name)."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.agents.service import AgentService
from agents_core.db import Connection
from agents_core.principal import Principal
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
        operation_id="exportAgents",
        summary="Export every active agent (portable: no ids, handoff targets as names)",
        responses=problems(401, 403),
    )
    async def export(
        self, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> list[AgentExport]:
        return await AgentService(conn).export(principal.organization_id)

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
        principal: NamedDependency[Principal],
        conn: NamedDependency[Connection],
        dry_run: Annotated[
            bool, QueryParameter(description="Validate and report without writing anything")
        ] = False,
    ) -> AgentImportResult:
        return await AgentService(conn).import_agents(
            principal.organization_id, data.agents, dry_run=dry_run, actor_id=principal.actor_id
        )
