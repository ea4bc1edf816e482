"""The organization's agent change feed, for audit and for services that sync."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import Parameter

from agents_api.dependencies import Caller
from agents_api.openapi import problems
from agents_api.security import requires_admin
from agents_core.events import service as feed
from agents_core.schemas import AgentEventPage

__all__ = ["AgentEventController"]


class AgentEventController(Controller):
    path = "/api/v1/agents"
    tags = ["agents"]
    guards = [requires_admin]

    @get(
        "/events",
        summary="List the organization's agent events, oldest first",
        description="Every change of an agent (`created`, `updated`, `deleted`, `restored`, "
        "`imported`, `duplicated`), in the order the changes committed. Pass the page's "
        "`next_cursor` as `after` to continue; cursors are opaque and stay valid. An event never "
        "appears after an event that was already returned, so a client that resumes from its "
        "last cursor misses nothing.",
        responses=problems(400, 401, 403),
    )
    async def list_agent_events(
        self,
        caller: NamedDependency[Caller],
        after: Annotated[
            str | None,
            Parameter(max_length=64, description="A cursor from a previous page (opaque)"),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=feed.MAX_LIMIT, description="Page size")] = 100,
    ) -> AgentEventPage:
        return await feed.EventService(caller).page(after=after, limit=limit)
