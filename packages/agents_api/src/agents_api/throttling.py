"""Rate limits per client address (sign-up, login) and the login throttle per email.

Both count in a moving window of the ``limits`` library: every request (or failed login) is an
entry with its time, and a limit of N refuses while N entries are younger than the window, so a
refusal lasts exactly until the oldest entry leaves it (``Retry-After`` says when). The counters
live in Redis when ``AGENTS_REDIS_URL`` is set (one Lua script per check, atomic, shared by every
process and host) and in the process otherwise; the code is the same for both.

Why ``limits``: it implements the moving window on both storages behind one async API, is typed,
and is maintained (it is what Flask-Limiter and SlowAPI build on). Its fixed window would let a
client send twice the limit across a window boundary, and a throttle "until the oldest failure
leaves the window" is a moving window by definition.

A store that cannot be reached refuses the request (503) rather than let it through: an attacker
who can make Redis unreachable must not get unlimited password guesses.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Awaitable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any, TypeVar

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Scope

from agents_api.metrics import record_rate_limited
from agents_api.problems import CodedHTTPException
from agents_api.settings import RateLimit, Settings

__all__ = [
    "RATE_LIMITED",
    "LimiterUnavailable",
    "Throttles",
    "TooManyRequests",
    "client_address",
    "rate_limited_by_address",
    "too_many_attempts",
]

logger = logging.getLogger("agents_api.throttling")

RATE_LIMITED = "rate_limited"
"""Route ``opt`` key: the name of the per-address limit the route counts against."""


class TooManyRequests(CodedHTTPException):
    status_code = 429


class LimiterUnavailable(CodedHTTPException):
    status_code = 503


T = TypeVar("T")


async def _reached(call: Awaitable[T]) -> T:
    """The store's answer; an unreachable store refuses the request (503) instead."""
    from limits.errors import StorageError

    try:
        return await call
    except StorageError as exc:
        logger.warning("rate-limit store unavailable: %s", exc.storage_error)
        raise LimiterUnavailable(
            "The rate-limit store is unavailable: try again shortly",
            code="rate_limiter_unavailable",
            headers={"Retry-After": "1"},
        ) from None


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _rate_item(limit: RateLimit) -> Any:
    from limits import parse

    return parse(str(limit))


def client_address(scope: Scope, trusted_proxies: tuple[IPv4Network | IPv6Network, ...]) -> str:
    """The connection's peer, or the first address of ``X-Forwarded-For`` when the peer is a
    trusted proxy (and that first entry is an address)."""
    client = scope.get("client")
    peer = client[0] if client else ""
    if not trusted_proxies or not peer:
        return peer
    try:
        peer_ip = ip_address(peer)
    except ValueError:
        return peer
    if not any(peer_ip in network for network in trusted_proxies):
        return peer
    for name, value in scope["headers"]:
        if name == b"x-forwarded-for":
            first = value.decode("latin-1").split(",", 1)[0].strip()
            try:
                return str(ip_address(first))
            except ValueError:
                return peer
    return peer


def _email_key(email: str) -> str:
    """Emails are compared case-insensitively, and kept out of the store (a digest)."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


class Throttles:
    """The app's limits over one store (Redis, or this process's memory).

    The limiter library is loaded, and the store made, by the first request that is counted:
    a server that never sees a sign-up or a login (one that only serves reads to workers)
    carries none of it.
    """

    __slots__ = (
        "_auth_rate",
        "_limiter",
        "_login_failures",
        "_pool",
        "_settings",
        "trusted_proxies",
    )

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiter: Any = None
        self._pool: Any = None
        self._auth_rate: Any = None
        self._login_failures: Any = None
        self.trusted_proxies = tuple(ip_network(net) for net in settings.trusted_proxies)

    def _counting(self) -> Any:
        if self._limiter is None:
            from limits import RateLimitItemPerSecond

            settings = self._settings
            limit = settings.auth_rate_limit
            self._auth_rate = None if limit is None else _rate_item(limit)
            self._login_failures = RateLimitItemPerSecond(
                settings.login_max_failures, settings.login_window
            )
            self._limiter = self._make_limiter(settings)
        return self._limiter

    def _make_limiter(self, settings: Settings) -> Any:
        from limits.aio.storage import MemoryStorage, RedisStorage, Storage
        from limits.aio.strategies import MovingWindowRateLimiter

        storage: Storage
        if settings.redis_url is not None:
            import redis.asyncio

            # Bounded waits: an unreachable Redis answers 503 within the database timeout.
            wait = min(settings.db_timeout, 2.0)
            self._pool = redis.asyncio.ConnectionPool.from_url(
                settings.redis_url, socket_timeout=wait, socket_connect_timeout=wait
            )
            storage = RedisStorage(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="agents",
                wrap_exceptions=True,
                connection_pool=self._pool,
            )
        else:
            storage = MemoryStorage(wrap_exceptions=True)
        return MovingWindowRateLimiter(storage)

    @property
    def auth_rate(self) -> Any:
        self._counting()
        return self._auth_rate

    @property
    def login_failures(self) -> Any:
        self._counting()
        return self._login_failures

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()

    async def _refused_for(self, item: Any, *key: str) -> float:
        """Seconds until ``key`` has room again under ``item``."""
        stats = await _reached(self._counting().get_window_stats(item, *key))
        reset: float = stats.reset_time
        return reset - time.time()

    # -- per client address -----------------------------------------------------------------------

    async def admit(self, kind: str, address: str) -> float | None:
        """Count one request of ``kind`` from ``address``: ``None`` when admitted, else the
        seconds until the address may try again."""
        if self._settings.auth_rate_limit is None:
            return None
        if await _reached(self._counting().hit(self.auth_rate, "address", kind, address)):
            return None
        return await self._refused_for(self.auth_rate, "address", kind, address)

    # -- failed logins per email ------------------------------------------------------------------

    async def login_blocked(self, email: str) -> float | None:
        """Seconds until logins for ``email`` are accepted again, or ``None`` when they are."""
        key = _email_key(email)
        if await _reached(self._counting().test(self.login_failures, "login", key)):
            return None
        return await self._refused_for(self.login_failures, "login", key)

    async def login_failed(self, email: str) -> None:
        await _reached(self._counting().hit(self.login_failures, "login", _email_key(email)))

    async def login_succeeded(self, email: str) -> None:
        await _reached(self._counting().clear(self.login_failures, "login", _email_key(email)))


async def rate_limited_by_address(
    connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler
) -> None:
    """Guard: the route's per-address limit (its ``opt[RATE_LIMITED]`` names it)."""
    kind = handler.opt.get(RATE_LIMITED)
    if kind is None:
        return  # the router's own handlers for the path (OPTIONS)
    throttles: Throttles = connection.app.state.throttles
    address = client_address(connection.scope, throttles.trusted_proxies)
    retry_after = await throttles.admit(kind, address)
    if retry_after is not None:
        record_rate_limited(connection, kind)
        raise TooManyRequests(
            "Too many requests from this address: try again later",
            code="rate_limited",
            headers=_retry_after(retry_after),
        )


def too_many_attempts(retry_after: float) -> TooManyRequests:
    return TooManyRequests(
        "Too many failed logins for this email: try again later",
        code="too_many_attempts",
        headers=_retry_after(retry_after),
    )
