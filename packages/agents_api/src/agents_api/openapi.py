"""OpenAPI: problem responses per route, operation ids, and the interactive docs served offline."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.enums import HttpMethod
from litestar.exceptions import NotFoundException
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.response import File

from agents_core.schemas import ProblemDetails

if TYPE_CHECKING:
    from litestar.handlers import HTTPRouteHandler
    from litestar.types import Method, OperationIDCreator
    from litestar.types.internal_types import PathParameterDefinition

__all__ = ["SwaggerUI", "operation_id_for", "operation_ids", "problems"]

_DESCRIPTIONS = {
    400: "Invalid input: a validation or business-rule failure (`errors` lists the fields)",
    401: "Missing, invalid or expired credentials",
    403: "The credential's role may not do this",
    404: "Not found, or owned by another organization",
    409: "Conflict with the current state",
    412: "`If-Match` does not match the current version",
    413: "Request body larger than 1 MiB",
    503: "The database is unavailable",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """Response specs for these problem statuses (plus 413 and 503, which any route can give).

    No generated examples: Litestar makes them with polyfactory and faker, a development
    dependency only (without it the whole document fails with a 500; with it, the first request
    for the document imports faker, ~50 MiB in that worker), and they were random strings.
    """
    return {
        status: ResponseSpec(
            data_container=ProblemDetails,
            description=_DESCRIPTIONS.get(status, HTTPStatus(status).phrase),
            media_type="application/problem+json",
            generate_examples=False,
        )
        for status in sorted({*statuses, 503})
    }


# -- operation ids -------------------------------------------------------------------------------


def operation_id_for(
    route_handler: HTTPRouteHandler,
    http_method: Method,
    path_components: list[str | PathParameterDefinition],
) -> str:
    """The ``operationId`` of a route that does not name its own: its handler's name in
    lowerCamelCase (``list_agents`` → ``listAgents``).

    Generated clients name their functions after it, so it is short and does not change when a
    path does (Litestar's default glues the path in: ``ApiV1AgentsAgentIdGetAgent``). Handlers
    are named after their operation (``create_agent``, ``list_agent_versions``), so that the id
    is declared in one place; two operations with one id fail the document's build.
    """
    first, *rest = route_handler.handler_name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def operation_ids(**by_method: str) -> OperationIDCreator:
    """``operation_id=`` for one handler that serves several methods (PUT and PATCH)."""

    def create(
        route_handler: HTTPRouteHandler,
        http_method: Method,
        path_components: list[str | PathParameterDefinition],
    ) -> str:
        return by_method[HttpMethod(http_method).value]

    return create


# -- interactive docs ----------------------------------------------------------------------------

_SWAGGER_UI_PACKAGE = "swagger_ui"
"""The ``swagger-ui-py`` distribution: Swagger UI's release files, installed with the server so
that the docs need no CDN (self-hosted and air-gapped deployments read them too)."""

_SWAGGER_UI_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-standalone-preset.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}
"""The files the docs page loads: served from the package, nothing else of it."""

_ASSETS = "/swagger-ui"


def _swagger_ui_dir() -> Path:
    # find_spec locates the package without importing it (its __init__ loads jinja2 and
    # handlers for other frameworks that the server never uses).
    spec = importlib.util.find_spec(_SWAGGER_UI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the swagger-ui-py package is not installed: reinstall agents-api")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


class SwaggerUI(SwaggerRenderPlugin):
    """Swagger UI at the docs' paths, its scripts, style and icon served by the app itself."""

    def __init__(self, *, docs_path: str, path: str | Sequence[str] = ("/", "/swagger")) -> None:
        assets = docs_path.rstrip("/") + _ASSETS
        super().__init__(
            js_url=f"{assets}/swagger-ui-bundle.js",
            css_url=f"{assets}/swagger-ui.css",
            standalone_preset_js_url=f"{assets}/swagger-ui-standalone-preset.js",
            path=path,
            favicon=f"<link rel='icon' type='image/png' href='{assets}/favicon-32x32.png'>",
        )
        self._directory = _swagger_ui_dir()

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        directory = self._directory

        @get(
            f"{_ASSETS}/{{name:str}}",
            sync_to_thread=False,
            include_in_schema=False,
            # The files change only with the package's version.
            cache_control=CacheControlHeader(max_age=86400, public=True),
        )
        def swagger_ui_file(name: FromPath[str]) -> File:
            media_type = _SWAGGER_UI_FILES.get(name)
            if media_type is None:
                raise NotFoundException()
            return File(directory / name, media_type=media_type, content_disposition_type="inline")

        router.register(swagger_ui_file)
