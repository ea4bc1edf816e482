"""Sending a :class:`~agents_client.spec.RequestSpec`: the only code that differs between sync and
async. Everything else — URL, headers, retry decisions, error mapping, decoding — is decided
without I/O by an :class:`Exchange`; the two senders only carry out its steps, one with ``await``.
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Final, Generic, TypeVar, final

import anyio
import httpx
import msgspec

from agents_client.errors import (
    AgentsError,
    APIConnectionError,
    APITimeoutError,
    parse_retry_after,
    status_error,
)
from agents_client.spec import ItemT, PageT, PageWalk, RequestSpec, T

__all__ = [
    "DEFAULT_MAX_RETRIES",
    "DEFAULT_TIMEOUT",
    "VERSION",
    "AsyncSender",
    "Exchange",
    "SenderBase",
    "SyncSender",
]

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)
Outcome = httpx.Response | httpx.TransportError
"""What one attempt came to: the API's answer, or the transport error that stopped it."""

DEFAULT_TIMEOUT: Final = httpx.Timeout(30.0, connect=5.0)
DEFAULT_MAX_RETRIES: Final = 2

RETRY_STATUSES: Final = frozenset({429, 503})
RETRY_CONFLICTS: Final = frozenset({"concurrent_change"})
"""409 codes of requests the API rolled back whole (a deadlock with a concurrent write): safe
to send again whatever the method, since nothing of them was applied."""
INITIAL_RETRY_DELAY: Final = 0.5
MAX_RETRY_DELAY: Final = 8.0
MAX_RETRY_AFTER: Final = 60.0
"""A ``Retry-After`` longer than this is not waited for; the normal backoff applies instead."""


def _installed_version() -> str:
    try:
        return version("agents-client")
    except PackageNotFoundError:  # running from a source tree without metadata
        return "0"


VERSION: Final = _installed_version()
"""The installed SDK's version, as its ``User-Agent`` tells the API."""
USER_AGENT: Final = f"agents-client/{VERSION} httpx/{httpx.__version__}"


def backoff_delay(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5 s, 1 s, 2 s … up to 8 s, each scaled by a random
    factor in [0.5, 1) so that many clients failing together do not retry together."""
    ceiling = min(INITIAL_RETRY_DELAY * 2.0**attempt, MAX_RETRY_DELAY)
    return ceiling * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not security


def _problem_code(response: httpx.Response) -> str | None:
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return None
    code = body.get("code") if isinstance(body, dict) else None
    return code if isinstance(code, str) else None


class SenderBase(Generic[HttpT]):
    """Connection settings, and the httpx client both senders send with."""

    def __init__(
        self,
        base_url: str | httpx.URL,
        *,
        api_key: str | None,
        token: str | None,
        timeout: float | httpx.Timeout | None,
        max_retries: int,
        http_client: HttpT | None,
    ) -> None:
        if api_key is not None and token is not None:
            raise ValueError("pass api_key or token, not both: each is a bearer credential")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        self.base_url = str(base_url).rstrip("/")
        self.credential = api_key if api_key is not None else token
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.max_retries = max_retries
        self.owns_http_client = http_client is None
        self.http: HttpT = self.new_http_client() if http_client is None else http_client

    def new_http_client(self) -> HttpT:
        """The httpx client made when none is given (closed with the sender)."""
        raise NotImplementedError

    def set_token(self, token: str | None) -> None:
        """Use this bearer credential (an access token or an API key) for the calls that follow."""
        self.credential = token

    def headers_for(self, spec: RequestSpec[Any]) -> dict[str, str]:
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if spec.body is not None:
            headers["Content-Type"] = "application/json"
        if spec.authenticated and self.credential is not None:
            headers["Authorization"] = f"Bearer {self.credential}"
        headers.update(spec.headers)
        return headers

    def url_for(self, spec: RequestSpec[Any]) -> str:
        return self.base_url + spec.url_path

    def exchange(self, spec: RequestSpec[T]) -> Exchange[T]:
        return Exchange(self, spec)


class Exchange(Generic[T]):
    """The attempts at one request, decided without I/O.

    A sender sends :meth:`request` and hands what came of it to :meth:`after`, which either
    returns how long to wait before the next attempt, raises the SDK's error, or returns
    ``None``: then :attr:`result` holds the answer as the spec's type.
    """

    __slots__ = ("attempt", "result", "sender", "spec")

    result: T

    def __init__(
        self, sender: SenderBase[httpx.Client] | SenderBase[httpx.AsyncClient], spec: RequestSpec[T]
    ) -> None:
        self.sender = sender
        self.spec = spec
        self.attempt = 0

    def request(self) -> httpx.Request:
        """The request of the next attempt (built then: it carries the current credential)."""
        sender, spec = self.sender, self.spec
        # ``build_request`` is the same, and does no I/O, on both kinds of httpx client.
        return sender.http.build_request(
            spec.route.method,
            sender.url_for(spec),
            params=spec.params,
            content=spec.content(),
            headers=sender.headers_for(spec),
            timeout=sender.timeout,
        )

    def after(self, outcome: Outcome) -> float | None:
        """Seconds to wait before trying again, or ``None`` when :attr:`result` is set.

        The response needs no closing when it is retried: httpx has read its whole body (the
        request was not streamed), which closes it.
        """
        delay = (
            self._delay_after_error(outcome)
            if isinstance(outcome, httpx.TransportError)
            else self._delay_after_response(outcome)
        )
        if delay is None:
            assert isinstance(outcome, httpx.Response)
            self.result = self._finish(outcome)
        else:
            self.attempt += 1
        return delay

    def _delay_after_response(self, response: httpx.Response) -> float | None:
        """How long to wait before trying again, or ``None`` to keep this answer."""
        if self.attempt >= self.sender.max_retries:
            return None
        if response.status_code == 409:
            if _problem_code(response) not in RETRY_CONFLICTS:
                return None
        elif response.status_code not in RETRY_STATUSES or not self.spec.retryable:
            return None
        asked = parse_retry_after(response.headers.get("Retry-After"))
        if asked is not None and asked <= MAX_RETRY_AFTER:
            return asked
        return backoff_delay(self.attempt)

    def _delay_after_error(self, exc: httpx.TransportError) -> float:
        """How long to wait before trying again; raises the SDK's error when it should not."""
        spec = self.spec
        error: AgentsError
        if isinstance(exc, httpx.TimeoutException):
            error = APITimeoutError(f"{spec.route}: timed out ({exc})", request=_request(exc))
        else:
            error = APIConnectionError(f"{spec.route}: {exc!r}", request=_request(exc))
        permanent = isinstance(exc, httpx.UnsupportedProtocol)
        if permanent or not spec.retryable or self.attempt >= self.sender.max_retries:
            raise error from exc
        return backoff_delay(self.attempt)

    def _finish(self, response: httpx.Response) -> T:
        """The answer as the spec's type, or the typed error."""
        if response.is_error:
            raise status_error(response)
        result = self.spec.parse(response)
        if self.spec.on_result is not None:
            self.spec.on_result(result)
        return result


def _request(exc: httpx.TransportError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:  # raised by httpx when the error was created without a request
        return None


@final
class SyncSender(SenderBase[httpx.Client]):
    """Sends specs over an ``httpx.Client``."""

    def new_http_client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout)

    def send(self, spec: RequestSpec[T]) -> T:
        exchange = self.exchange(spec)
        while True:
            delay = exchange.after(self._attempt(exchange.request()))
            if delay is None:
                return exchange.result
            time.sleep(delay)

    def _attempt(self, request: httpx.Request) -> Outcome:
        try:
            return self.http.send(request)
        except httpx.TransportError as exc:
            return exc

    def walk(self, walk: PageWalk[PageT, ItemT]) -> Iterator[ItemT]:
        spec: RequestSpec[PageT] | None = walk.first
        while spec is not None:
            page = self.send(spec)
            yield from walk.items(page)
            spec = walk.follow(spec, page)

    def close(self) -> None:
        if self.owns_http_client:
            self.http.close()


@final
class AsyncSender(SenderBase[httpx.AsyncClient]):
    """Sends specs over an ``httpx.AsyncClient``."""

    def new_http_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout)

    async def send(self, spec: RequestSpec[T]) -> T:
        exchange = self.exchange(spec)
        while True:
            delay = exchange.after(await self._attempt(exchange.request()))
            if delay is None:
                return exchange.result
            await anyio.sleep(delay)

    async def _attempt(self, request: httpx.Request) -> Outcome:
        try:
            return await self.http.send(request)
        except httpx.TransportError as exc:
            return exc

    async def walk(self, walk: PageWalk[PageT, ItemT]) -> AsyncIterator[ItemT]:
        spec: RequestSpec[PageT] | None = walk.first
        while spec is not None:
            page = await self.send(spec)
            for item in walk.items(page):
                yield item
            spec = walk.follow(spec, page)

    async def close(self) -> None:
        if self.owns_http_client:
            await self.http.aclose()
