"""One resource class per aggregate serves both clients.

A resource method is written once, as a *builder* that returns a
:class:`~agents_client.spec.RequestSpec`, and decorated with :func:`endpoint` (or :func:`pager`
for a listing read page by page), which declares its route. On a resource bound to the sync
sender the method sends the spec and returns ``T``; bound to the async sender, it is a coroutine
function returning ``T``. The overloads of ``__get__`` tell the type checker which, so
``AgentsClient().agents.get`` and ``AsyncAgentsClient().agents.get`` are both precisely typed
with the builder's own parameters.

The route each descriptor declares is the SDK's route registry: :func:`operations` lists them,
and the mirror test compares that list with the app's OpenAPI document.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeVar, overload

from agents_client.sending import AsyncSender, SyncSender
from agents_client.spec import HTTPMethod, PageWalk, RequestSpec, Route

__all__ = ["Endpoint", "Pager", "Resource", "endpoint", "operations", "pager"]

P = ParamSpec("P")
T = TypeVar("T")
ItemT = TypeVar("ItemT")
S = TypeVar("S", bound=SyncSender | AsyncSender)


class Resource(Generic[S]):
    """Base of the resource classes: holds the sender that every method of the resource uses."""

    def __init__(self, sender: S) -> None:
        self._sender: S = sender


def _present(bound: Callable[..., Any], build: Callable[..., Any], *, is_async: bool) -> None:
    """Give the bound method the builder's name, docs and signature (without ``self, route``)."""
    bound.__name__ = build.__name__
    bound.__qualname__ = build.__qualname__
    bound.__doc__ = build.__doc__
    signature = inspect.signature(build)
    parameters = list(signature.parameters.values())[2:]
    bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    bound.__dict__["is_async"] = is_async


def _checked(route: Route, spec: RequestSpec[T]) -> RequestSpec[T]:
    # The declared route is the registry the mirror test checks; a builder may not stray from it.
    if spec.route != route:
        raise RuntimeError(f"a method declared for {route} built a request for {spec.route}")
    return spec


class Endpoint(Generic[P, T]):
    """A resource method that sends one request."""

    def __init__(
        self, route: Route, build: Callable[Concatenate[Any, Route, P], RequestSpec[T]]
    ) -> None:
        self.route = route
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self, obj: Resource[SyncSender], owner: type[Any] | None = None
    ) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncSender], owner: type[Any] | None = None
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(
        self,
        obj: Resource[SyncSender] | Resource[AsyncSender] | None,
        owner: type[Any] | None = None,
    ) -> Any:
        if obj is None:
            return self
        build, route, sender = self.build, self.route, obj._sender
        bound: Callable[..., Any]
        if isinstance(sender, AsyncSender):
            async_sender = sender

            async def send_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await async_sender.send(_checked(route, build(obj, route, *args, **kwargs)))

            bound = send_async
        else:
            sync_sender = sender

            def send(*args: P.args, **kwargs: P.kwargs) -> T:
                return sync_sender.send(_checked(route, build(obj, route, *args, **kwargs)))

            bound = send
        _present(bound, build, is_async=isinstance(sender, AsyncSender))
        # Cache on the instance: later lookups find it before this (non-data) descriptor.
        obj.__dict__[self.name] = bound
        return bound


class Pager(Generic[P, ItemT]):
    """A resource method that reads a listing page by page and yields its items."""

    def __init__(
        self, route: Route, build: Callable[Concatenate[Any, Route, P], PageWalk[Any, ItemT]]
    ) -> None:
        self.route = route
        self.build = build
        self.name = build.__name__
        self.__doc__ = build.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self, obj: Resource[SyncSender], owner: type[Any] | None = None
    ) -> Callable[P, Iterator[ItemT]]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncSender], owner: type[Any] | None = None
    ) -> Callable[P, AsyncIterator[ItemT]]: ...
    def __get__(
        self,
        obj: Resource[SyncSender] | Resource[AsyncSender] | None,
        owner: type[Any] | None = None,
    ) -> Any:
        if obj is None:
            return self
        build, route, sender = self.build, self.route, obj._sender

        def iterate(*args: P.args, **kwargs: P.kwargs) -> Iterator[ItemT] | AsyncIterator[ItemT]:
            # A generator (sync sender) or an async generator (async sender).
            walk = build(obj, route, *args, **kwargs)
            _checked(route, walk.first)
            return sender.walk(walk)

        _present(iterate, build, is_async=isinstance(sender, AsyncSender))
        obj.__dict__[self.name] = iterate
        return iterate


def endpoint(
    method: HTTPMethod, path: str
) -> Callable[[Callable[Concatenate[Any, Route, P], RequestSpec[T]]], Endpoint[P, T]]:
    """Declare a resource method's route; the builder receives it to put in its spec."""
    route = Route(method, path)

    def declare(build: Callable[Concatenate[Any, Route, P], RequestSpec[T]]) -> Endpoint[P, T]:
        return Endpoint(route, build)

    return declare


def pager(
    method: HTTPMethod, path: str
) -> Callable[[Callable[Concatenate[Any, Route, P], PageWalk[Any, ItemT]]], Pager[P, ItemT]]:
    """Declare a paging resource method's route."""
    route = Route(method, path)

    def declare(
        build: Callable[Concatenate[Any, Route, P], PageWalk[Any, ItemT]],
    ) -> Pager[P, ItemT]:
        return Pager(route, build)

    return declare


def operations(root: object, prefix: str = "") -> dict[str, Route]:
    """Every resource method reachable from ``root`` (a client or a resource), by dotted name
    (``"agents.versions.restore"``), with the route it calls."""
    found: dict[str, Route] = {}
    for cls in type(root).__mro__:
        for name, value in vars(cls).items():
            if isinstance(value, Endpoint | Pager) and not name.startswith("_"):
                found.setdefault(prefix + name, value.route)
    for name, value in vars(root).items():
        if isinstance(value, Resource) and not name.startswith("_"):
            found.update(operations(value, f"{prefix}{name}."))
    return found
