from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency

from agents_api.openapi import problems
from agents_api.problems import problem_response
from agents_api.security import PUBLIC
from agents_core.db import Database
from agents_core.errors import DatabaseUnavailable
from agents_core.schemas import HealthStatus

READY_TIMEOUT = 1.5
"""Seconds the readiness probe waits for the database (the contract answers within 2 s)."""


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = PUBLIC

    @get("/", summary="Liveness: the process is up")
    async def check_health(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get("/ready", summary="Readiness: the database answers", responses=problems(503))
    async def check_readiness(
        self, database: NamedDependency[Database]
    ) -> Response[HealthStatus] | Response[bytes]:
        try:
            await database.ping(within=READY_TIMEOUT)
        except DatabaseUnavailable:
            return problem_response(
                503,
                detail="The database is not answering",
                code="database_unavailable",
                headers={"Retry-After": "1"},
            )
        return Response(HealthStatus(status="ok"))
