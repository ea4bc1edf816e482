"""The response shapes several routes share: a tagged resource, a page with its count, a created
resource with its location."""

from __future__ import annotations

from typing import Protocol, TypeVar

from litestar import Response
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from agents_api.controllers.parameters import etag

__all__ = ["counted", "created", "tagged"]

T = TypeVar("T")


class _Page(Protocol[T]):
    items: list[T]
    total: int


def tagged(content: T, tag: int, status: int = HTTP_200_OK) -> Response[T]:
    """``content`` with its ``ETag`` (an agent's version, an environment's revision)."""
    return Response(content, status_code=status, headers={"ETag": etag(tag)})


def counted(page: _Page[T]) -> Response[list[T]]:
    """A page's items, with the number of matches before paging in ``X-Total-Count``."""
    return Response(page.items, headers={"X-Total-Count": str(page.total)})


def created(content: T, location: str, tag: int | None = None) -> Response[T]:
    """``content`` as the answer to a creation: 201, the new resource's ``Location`` (and its
    ``ETag``, when it has one)."""
    headers = {} if tag is None else {"ETag": etag(tag)}
    headers["Location"] = location
    return Response(content, status_code=HTTP_201_CREATED, headers=headers)
