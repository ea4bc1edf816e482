"""The Litestar application."""

from __future__ import annotations

import ctypes
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.router import Router
from litestar.routes import HTTPRoute

from agents_api import __version__
from agents_api.bodies import check_body
from agents_api.body_limit import BodyLimitMiddleware
from agents_api.browser_policy import BrowserPolicy
from agents_api.controllers.agent_transfer import AgentTransferController
from agents_api.controllers.agents import AgentController
from agents_api.controllers.api_keys import ApiKeyController
from agents_api.controllers.auth import AuthController, SessionController
from agents_api.controllers.environments import EnvironmentController
from agents_api.controllers.events import AgentEventController
from agents_api.controllers.health import HealthController
from agents_api.controllers.releases import ReleaseController
from agents_api.controllers.users import UserController
from agents_api.dependencies import dependencies
from agents_api.metrics import AppMetrics, metrics_endpoint
from agents_api.openapi import SwaggerUI, operation_id_for
from agents_api.openapi_truth import complete_document
from agents_api.problems import exception_handlers
from agents_api.request_observer import RequestObserver
from agents_api.security import PUBLIC, RequestContextMiddleware, VerifiedTokens
from agents_api.settings import Settings
from agents_api.throttling import Throttles
from agents_api.tokens import TokenCodec
from agents_api.tracing import RequestTracing, skip_litestar_probe
from agents_api.write_gates import WriteGates
from agents_core.db import Database

__all__ = ["create_app"]

logger = logging.getLogger("agents_api")

PUBLIC_HANDLERS = [HealthController, SessionController]
"""Routes that need no credentials (their handlers carry ``opt=PUBLIC``)."""

ROUTE_HANDLERS = [
    AuthController,
    UserController,
    ApiKeyController,
    AgentTransferController,
    AgentEventController,
    AgentController,
    ReleaseController,
    EnvironmentController,
]


def return_freed_memory() -> None:
    """Hand the heap pages that start-up freed back to the OS. glibc keeps freed memory for the
    process otherwise, and start-up frees a lot: without ``.pyc`` files every import compiles
    its module first (about 3 MiB of resident memory after start-up). Elsewhere (another C
    library), nothing to do."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> Litestar:
    """Build the app. Settings come from the environment unless given (tests pass their own)."""
    settings = settings or Settings.from_env()
    owns_database = database is None
    if database is None:
        database = Database(
            settings.database_url, pool_size=settings.db_pool_size, timeout=settings.db_timeout
        )

    metrics = AppMetrics(database, token=settings.metrics_token) if settings.metrics else None
    throttles = Throttles(settings)
    # Off, this imports nothing of OpenTelemetry.
    tracing = RequestTracing(database, os.environ) if settings.tracing else None

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            # Imported only here: alembic (with mako and pygments) is ~5 MiB that a server
            # started by `agents run`, which migrates before it serves, never loads.
            from agents_core.db import migrations

            await migrations.upgrade(database)
        # Everything loaded so far lives as long as the process: keep it out of the cyclic
        # garbage collector, whose full passes would otherwise walk all of it every few
        # thousand requests (the list endpoint's p99 and a fifth of its CPU).
        gc.collect()
        gc.freeze()
        return_freed_memory()
        try:
            yield
        finally:
            if tracing is not None:
                tracing.shutdown()
            await throttles.close()
            if owns_database:
                await database.close()

    undo_probe_skip = skip_litestar_probe(settings.tracing)
    app = Litestar(
        route_handlers=[
            *PUBLIC_HANDLERS,
            *([metrics_endpoint] if metrics is not None else []),
            # Every other route takes a bearer credential; the OpenAPI document says so per route.
            Router("/", route_handlers=ROUTE_HANDLERS, security=[{"bearer": []}]),
        ],
        dependencies=dependencies,
        middleware=[
            *([tracing.middleware] if tracing is not None else []),
            DefineMiddleware(BodyLimitMiddleware, limit=settings.max_body_size),
            RequestContextMiddleware,
        ],
        exception_handlers=exception_handlers,
        # After the guards (the per-address limits), before the body is decoded.
        before_request=check_body,
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "database": database,
                "tokens": TokenCodec(settings.secret_key, settings.access_token_ttl),
                "verified_tokens": VerifiedTokens(),
                "write_gates": WriteGates(settings.db_timeout),
                "metrics": metrics,
                "throttles": throttles,
            }
        ),
        request_max_body_size=settings.max_body_size,
        openapi_config=OpenAPIConfig(
            title="Voice agents API",
            version=__version__,
            description="Manage AI voice-agent definitions per organization.",
            path="/schema",
            # The documentation needs no credentials.
            openapi_router=Router(
                "/schema", route_handlers=[], include_in_schema=False, opt=PUBLIC
            ),
            # Served by the app from an installed package: the docs work without internet.
            render_plugins=[SwaggerUI(docs_path="/schema")],
            operation_id_creator=operation_id_for,
            components=Components(
                security_schemes={
                    "bearer": SecurityScheme(
                        type="http",
                        scheme="bearer",
                        description="A user access token (JWT) or an API key (`agk_…`)",
                    )
                }
            ),
        ),
        plugins=[*([tracing.plugin()] if tracing is not None else [])],
        # The server process configures logging once (agents_api.logs); an app must not
        # reconfigure the logging of the process that builds it.
        logging_config=None,
        debug=False,
    )
    undo_probe_skip()
    complete_document(app)
    # Around Litestar's own entry point, so that it sees every response, the router's too.
    methods = {
        route.path_format: frozenset(route.methods)
        for route in app.routes
        if isinstance(route, HTTPRoute)
    }
    app.asgi_handler = RequestObserver(
        app.asgi_handler,
        metrics=metrics,
        log_requests=settings.access_log,
        policy=BrowserPolicy(settings.cors_origins, methods),
    )
    return app
