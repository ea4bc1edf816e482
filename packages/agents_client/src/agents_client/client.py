"""The two clients. They differ only in how they send (see :mod:`agents_client.sending`) and in
how they are closed; the resources are the same classes, bound to a sync or an async sender."""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Generic, Self

import httpx

from agents_client.endpoints import Resource, S
from agents_client.resources import (
    AgentsResource,
    ApiKeysResource,
    AuthResource,
    EnvironmentsResource,
    HealthResource,
    ReleasesResource,
    UsersResource,
)
from agents_client.sending import (
    DEFAULT_MAX_RETRIES,
    DEFAULT_TIMEOUT,
    AsyncSender,
    HttpT,
    SyncSender,
)

__all__ = ["AgentsClient", "AsyncAgentsClient"]


class _Client(Resource[S], Generic[S, HttpT]):
    """The constructor, the resource tree and credential handling, shared by both clients."""

    _sender_type: Callable[..., S]

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        api_key: str | None = None,
        token: str | None = None,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = DEFAULT_MAX_RETRIES,
        http_client: HttpT | None = None,
    ) -> None:
        sender = self._sender_type(
            base_url,
            api_key=api_key,
            token=token,
            timeout=timeout,
            max_retries=max_retries,
            http_client=http_client,
        )
        super().__init__(sender)
        self.health: HealthResource[S] = HealthResource(sender)
        self.auth: AuthResource[S] = AuthResource(sender)
        self.users: UsersResource[S] = UsersResource(sender)
        self.api_keys: ApiKeysResource[S] = ApiKeysResource(sender)
        self.agents: AgentsResource[S] = AgentsResource(sender)
        self.releases: ReleasesResource[S] = ReleasesResource(sender)
        self.environments: EnvironmentsResource[S] = EnvironmentsResource(sender)

    @property
    def base_url(self) -> str:
        return self._sender.base_url

    @property
    def max_retries(self) -> int:
        return self._sender.max_retries

    @property
    def token(self) -> str | None:
        """The bearer credential sent with every call that needs one (access token or API key)."""
        return self._sender.credential

    @token.setter
    def token(self, value: str | None) -> None:
        self._sender.set_token(value)


class AgentsClient(_Client[SyncSender, httpx.Client]):
    """Blocking client for the voice-agents API.

    ``api_key`` or ``token`` (not both) authenticates; ``auth.login`` and ``auth.signup`` set
    the token themselves. ``timeout`` applies to each attempt of each request (also through a
    given ``http_client``, an ``httpx.Client``). Idempotent requests (GET, PUT, DELETE) are
    retried up to ``max_retries`` times on connection errors, timeouts, 429 and 503; any request
    after a 409 ``concurrent_change`` (rolled back whole). A given ``http_client`` is not closed
    by :meth:`close`; one the client creates is.
    """

    _sender_type = SyncSender

    def close(self) -> None:
        self._sender.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncAgentsClient(_Client[AsyncSender, httpx.AsyncClient]):
    """The asyncio (and trio) twin of :class:`AgentsClient`: same arguments (``http_client`` an
    ``httpx.AsyncClient``), same resources, every method a coroutine (the paging ones async
    iterators)."""

    _sender_type = AsyncSender

    async def close(self) -> None:
        await self._sender.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
