"""OpenAPI helpers: every route documents its problem responses."""

from __future__ import annotations

from http import HTTPStatus

from litestar.openapi.datastructures import ResponseSpec

from agents_core.schemas import ProblemDetails

__all__ = ["problems"]

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
