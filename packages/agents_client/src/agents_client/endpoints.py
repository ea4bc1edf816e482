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
from typing import Any, Concatenate, Generic, ParamSpec, Self, TypeAlias, TypeVar, overload

from agents_client.sending import AsyncSender, SyncSender
from agents_client.spec import HTTPMethod, PageWalk, RequestSpec, Route

__all__ = ["Endpoint", "Pager", "Resource", "endpoint", "operations", "pager"]

P = ParamSpec("P")
T = TypeVar("T")
ItemT = TypeVar("ItemT")
S = TypeVar("S", bound=SyncSender | AsyncSender)
BuiltT = TypeVar("BuiltT")
SyncT = TypeVar("SyncT")
AsyncT = TypeVar("AsyncT")

Builder: TypeAlias = Callable[Concatenate[Any, Route, P], BuiltT]
"""A resource method as written: ``(self, route, *arguments) -> what to send``."""


class Resource(Generic[S]):
    """Base of the resource classes: holds the sender that every method of the resource uses."""

    def __init__(self, sender: S) -> None:
        self._sender: S = sender


def _checked(route: Route, spec: RequestSpec[T]) -> RequestSpec[T]:
    # The declared route is the registry the mirror test checks; a builder may not stray from it.
    if spec.route != route:
        raise RuntimeError(f"a method declared for {route} built a request for {spec.route}")
    return spec


class _Declared(Generic[P, BuiltT, SyncT, AsyncT]):
    """A resource method declared with its route. Looked up on a resource, it becomes a function
    of the builder's own parameters that returns ``SyncT`` on a sync sender and ``AsyncT`` on an
    async one (see :meth:`_bind`), cached on the resource."""

    def __init__(self, route: Route, build: Builder[P, BuiltT], doc: str | None = None) -> None:
        self.route = route
        self.build = build
        self.name = build.__name__
        self.qualname = build.__qualname__
        self.__doc__ = build.__doc__ if doc is None else doc

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name
        self.qualname = f"{owner.__qualname__}.{name}"

    @overload
    def __get__(self, obj: None, owner: type[Any] | None = None) -> Self: ...
    @overload
    def __get__(
        self, obj: Resource[SyncSender], owner: type[Any] | None = None
    ) -> Callable[P, SyncT]: ...
    @overload
    def __get__(
        self, obj: Resource[AsyncSender], owner: type[Any] | None = None
    ) -> Callable[P, AsyncT]: ...
    def __get__(
        self,
        obj: Resource[SyncSender] | Resource[AsyncSender] | None,
        owner: type[Any] | None = None,
    ) -> Any:
        if obj is None:
            return self
        bound = self._bind(obj)
        # Present it as the method declared (name, docs, signature without ``self, route``).
        bound.__name__ = self.name
        bound.__qualname__ = self.qualname
        bound.__doc__ = self.__doc__
        signature = inspect.signature(self.build)
        parameters = list(signature.parameters.values())[2:]
        bound.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        bound.__dict__["is_async"] = isinstance(obj._sender, AsyncSender)
        # Cache on the instance: later lookups find it before this (non-data) descriptor.
        obj.__dict__[self.name] = bound
        return bound

    def _bind(self, obj: Resource[SyncSender] | Resource[AsyncSender]) -> Callable[..., Any]:
        raise NotImplementedError


class Endpoint(_Declared[P, RequestSpec[T], T, Coroutine[Any, Any, T]]):
    """A resource method that sends one request."""

    def sent_as(self, method: HTTPMethod, doc: str) -> Endpoint[P, T]:
        """The same request sent with another method, as another resource method."""
        return Endpoint(Route(method, self.route.path), self.build, doc)

    def _bind(self, obj: Resource[SyncSender] | Resource[AsyncSender]) -> Callable[..., Any]:
        build, route, sender = self.build, self.route, obj._sender
        if isinstance(sender, AsyncSender):
            async_sender = sender

            async def send_async(*args: P.args, **kwargs: P.kwargs) -> T:
                return await async_sender.send(_checked(route, build(obj, route, *args, **kwargs)))

            return send_async
        sync_sender = sender

        def send(*args: P.args, **kwargs: P.kwargs) -> T:
            return sync_sender.send(_checked(route, build(obj, route, *args, **kwargs)))

        return send


class Pager(_Declared[P, PageWalk[Any, ItemT], Iterator[ItemT], AsyncIterator[ItemT]]):
    """A resource method that reads a listing page by page and yields its items."""

    def _bind(self, obj: Resource[SyncSender] | Resource[AsyncSender]) -> Callable[..., Any]:
        build, route, sender = self.build, self.route, obj._sender

        def iterate(*args: P.args, **kwargs: P.kwargs) -> Iterator[ItemT] | AsyncIterator[ItemT]:
            # A generator (sync sender) or an async generator (async sender).
            walk = build(obj, route, *args, **kwargs)
            _checked(route, walk.first)
            return sender.walk(walk)

        return iterate


def endpoint(
    method: HTTPMethod, path: str
) -> Callable[[Builder[P, RequestSpec[T]]], Endpoint[P, T]]:
    """Declare a resource method's route; the builder receives it to put in its spec."""
    route = Route(method, path)
    return lambda build: Endpoint(route, build)


def pager(
    method: HTTPMethod, path: str
) -> Callable[[Builder[P, PageWalk[Any, ItemT]]], Pager[P, ItemT]]:
    """Declare a paging resource method's route."""
    route = Route(method, path)
    return lambda build: Pager(route, build)


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
