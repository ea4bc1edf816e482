"""Requests described once, as data: the shared layer under the sync and async clients.

A resource method builds a :class:`RequestSpec` (route, path parameters, query, body, how to read
the answer); :mod:`agents_client.sending` sends it with httpx, synchronously or not. Paged
listings are a :class:`PageWalk`: the first request, how to take the items out of a page, and how
to get the next request from the page just read.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Generic, Literal, TypeVar
from urllib.parse import quote
from uuid import UUID

import httpx
import msgspec

from agents_client.errors import APIResponseValidationError

__all__ = [
    "IDEMPOTENT_METHODS",
    "HTTPMethod",
    "Page",
    "PageWalk",
    "RequestSpec",
    "ResponseParser",
    "Route",
    "json_of",
    "list_of",
    "no_content",
    "page_of",
]

T = TypeVar("T")
PageT = TypeVar("PageT")
ItemT = TypeVar("ItemT")

HTTPMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

IDEMPOTENT_METHODS: Final[frozenset[str]] = frozenset({"GET", "PUT", "DELETE"})
"""Methods retried automatically. PATCH is left out: HTTP does not promise it is idempotent
(this API's PATCH happens to be, but a client should not rely on a server detail), and POST
creates, restores, duplicates or imports."""

ResponseParser = Callable[[httpx.Response], T]
PathValue = str | UUID | int


@dataclass(frozen=True, slots=True)
class Route:
    """One operation of the API: method and path template, exactly as in its OpenAPI document."""

    method: HTTPMethod
    path: str

    def url_path(self, params: Mapping[str, PathValue]) -> str:
        # Every value is percent-encoded, so an id can never reach another path.
        return self.path.format_map({k: quote(str(v), safe="") for k, v in params.items()})

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class RequestSpec(Generic[T]):
    """Everything needed to send one request and read its answer as ``T``."""

    route: Route
    parse: ResponseParser[T]
    path_params: Mapping[str, PathValue] = field(default_factory=dict)
    query: Mapping[str, object] = field(default_factory=dict)
    """Query parameters: strings, numbers, booleans (``true``/``false``); ``None`` is left out."""
    body: object = None
    headers: Mapping[str, str] = field(default_factory=dict)
    authenticated: bool = True
    retry: bool | None = None
    """``None``: retry when the method is idempotent; ``False``: never (e.g. a readiness probe)."""
    on_result: Callable[[T], None] | None = None
    """Called with the parsed answer before it is returned (login uses it to keep the token)."""

    @property
    def url_path(self) -> str:
        return self.route.url_path(self.path_params)

    @property
    def params(self) -> dict[str, str]:
        """The query string, without the parameters left at ``None``."""
        out: dict[str, str] = {}
        for key, value in self.query.items():
            if value is None:
                continue
            out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out

    @property
    def retryable(self) -> bool:
        if self.retry is not None:
            return self.retry and self.route.method in IDEMPOTENT_METHODS
        return self.route.method in IDEMPOTENT_METHODS

    def content(self) -> bytes | None:
        return None if self.body is None else msgspec.json.encode(self.body)

    def with_query(self, **query: str | int | bool | None) -> RequestSpec[T]:
        return RequestSpec(
            route=self.route,
            parse=self.parse,
            path_params=self.path_params,
            query={**self.query, **query},
            body=self.body,
            headers=self.headers,
            authenticated=self.authenticated,
            retry=self.retry,
            on_result=self.on_result,
        )


@dataclass(frozen=True, slots=True)
class PageWalk(Generic[PageT, ItemT]):
    """A listing read page by page: ``follow`` gives the next request, or ``None`` at the end."""

    first: RequestSpec[PageT]
    items: Callable[[PageT], Iterable[ItemT]]
    follow: Callable[[RequestSpec[PageT], PageT], RequestSpec[PageT] | None]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; ``total`` counts the matches before paging (``X-Total-Count``)."""

    items: list[T]
    total: int
    offset: int = 0

    @property
    def has_more(self) -> bool:
        return bool(self.items) and self.offset + len(self.items) < self.total

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@functools.cache
def _decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(type_)


def _decode(type_: Any, response: httpx.Response) -> Any:
    try:
        return _decoder(type_).decode(response.content)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise APIResponseValidationError(
            f"{response.request.method} {response.request.url.path}: unexpected answer: {exc}",
            response=response,
        ) from exc


def json_of(type_: type[T]) -> ResponseParser[T]:
    """Read the body as ``type_``."""

    def parse(response: httpx.Response) -> T:
        value: T = _decode(type_, response)
        return value

    return parse


def list_of(type_: type[T]) -> ResponseParser[list[T]]:
    """Read the body as a JSON array of ``type_``."""

    def parse(response: httpx.Response) -> list[T]:
        value: list[T] = _decode(list[type_], response)  # type: ignore[valid-type]
        return value

    return parse


def page_of(type_: type[T]) -> ResponseParser[Page[T]]:
    """Read a JSON array of ``type_`` and its total from ``X-Total-Count``; the page's offset is
    the one the request asked for."""
    read_items = list_of(type_)

    def parse(response: httpx.Response) -> Page[T]:
        items = read_items(response)
        asked = response.request.url.params.get("offset", "0")
        offset = int(asked) if asked.isdigit() else 0
        header = response.headers.get("X-Total-Count", "")
        total = int(header) if header.isdigit() else offset + len(items)
        return Page(items=items, total=total, offset=offset)

    return parse


def no_content(response: httpx.Response) -> None:
    """For 204 answers."""
    return
