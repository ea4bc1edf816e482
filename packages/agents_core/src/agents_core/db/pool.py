"""The PostgreSQL connection pool: asyncpg connections, lent in arrival order, every wait bounded.

Why not asyncpg's own pool: on every request it made a task (``asyncio.shield``) and a timer to
give the connection back, and a proxy object to lend it — as much CPU as a third of a one-agent
read — and a connection given back could go to a request that had just arrived while one that had
waited longer was woken only to queue again (the tail of a read's latency under load). This one
lends an idle connection with a list ``pop``, gives it back with an ``append`` or straight to
the longest waiter, and bounds the waits for a connection and the statements with one watchdog
for all of them instead of a timer each.

Statement bounds. PostgreSQL's own ``statement_timeout`` and ``lock_timeout`` (set on every
connection) answer a slow statement while the server is alive, and the connection stays usable.
A server that stopped answering (frozen, cut off) answers nothing: a :class:`Lease` marks the
instant by which its statement must end, and :meth:`DriverPool.watch`, a task woken every
:data:`WATCH_INTERVAL`, closes the connection of any statement past it — the statement then
fails with a connection error, which is :class:`~agents_core.errors.DatabaseUnavailable`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

__all__ = ["WATCH_INTERVAL", "DriverPool", "Lease"]

WATCH_INTERVAL = 0.1
"""Seconds between two looks of the watchdog: a statement on a server that stopped answering
fails at most this long after its time is up."""


class Lease(Protocol):
    """A connection's current user, as the pool sees it: the raw connection lent to it, and the
    instant (``time.monotonic()``) by which its statement must end (``None`` between
    statements)."""

    raw: Any
    until: float | None


class DriverPool:
    """At most ``size`` asyncpg connections, opened on demand and kept open.

    ``acquire`` takes an idle connection at once when there is one, opens one when fewer than
    ``size`` are open, and otherwise waits — first come, first served — for one to be given
    back, at most ``within`` seconds (``TimeoutError``).
    """

    def __init__(
        self,
        connect: Callable[[float], Awaitable[Any]],
        size: int,
    ) -> None:
        self._connect = connect
        self.size = size
        self._idle: list[Any] = []
        self._open = 0
        """Connections open or being opened."""
        self._waiters: deque[tuple[asyncio.Future[Any], float]] = deque()
        """Requests waiting for a connection, in arrival order, each with its deadline."""
        self._leases: set[Lease] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._closed = False

    # -- state ---------------------------------------------------------------------------------

    @property
    def opened(self) -> int:
        return self._open

    @property
    def idle(self) -> int:
        return len(self._idle)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    # -- lending -------------------------------------------------------------------------------

    async def acquire(self, lease: Lease, within: float) -> Any:
        """A connection for ``lease`` (kept in ``lease.raw`` until :meth:`release`)."""
        if self._closed:
            raise ConnectionError("the pool is closed")
        idle = self._idle
        while idle:
            raw = idle.pop()
            if not raw.is_closed():
                return self._lend(lease, raw)
            self._open -= 1
        if self._open < self.size:
            return self._lend(lease, await self._open_one(within))
        # The wait's bound is kept by the watchdog too (no timer per wait): it fails a waiter
        # whose deadline has passed with ``TimeoutError``.
        deadline = time.monotonic() + within
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.append((waiter, deadline))
        try:
            raw = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                # Handed a connection (or a free slot) just as the wait ended: pass it on.
                handed = waiter.result()
                if handed is None:
                    self._open -= 1
                    self._free_slot()
                else:
                    self._give_back(handed)
            else:
                waiter.cancel()
                self._forget(waiter)
            raise
        if raw is None:  # a slot was freed: open a connection in it, in the time left
            left = max(0.001, deadline - time.monotonic())
            return self._lend(lease, await self._open_one(left, counted=True))
        return self._lend(lease, raw)

    def release(self, lease: Lease) -> None:
        """Give ``lease``'s connection back (closed instead when a transaction was left open:
        its state is unknown)."""
        raw, lease.raw, lease.until = lease.raw, None, None
        self._leases.discard(lease)
        if raw is None:
            return
        if not raw.is_closed() and raw.is_in_transaction():
            raw.terminate()
        self._give_back(raw)

    def _lend(self, lease: Lease, raw: Any) -> Any:
        lease.raw = raw
        self._leases.add(lease)
        if self._watchdog is None:
            self._watchdog = asyncio.get_running_loop().create_task(self.watch())
        return raw

    def _give_back(self, raw: Any) -> None:
        if self._closed:
            self._open -= 1
            if not raw.is_closed():
                raw.terminate()
            return
        if raw.is_closed():
            self._open -= 1
            self._free_slot()
            return
        waiter = self._next_waiter()
        if waiter is None:
            self._idle.append(raw)
        else:
            waiter.set_result(raw)

    def _free_slot(self) -> None:
        """A connection closed: the longest waiter may open one in its place."""
        waiter = self._next_waiter()
        if waiter is not None:
            self._open += 1
            waiter.set_result(None)

    def _next_waiter(self) -> asyncio.Future[Any] | None:
        """The longest waiter still waiting, out of the line."""
        waiters = self._waiters
        while waiters:
            waiter, _ = waiters.popleft()
            if not waiter.done():
                return waiter
        return None

    def _forget(self, waiter: asyncio.Future[Any]) -> None:
        for entry in self._waiters:
            if entry[0] is waiter:
                self._waiters.remove(entry)
                return

    async def _open_one(self, within: float, *, counted: bool = False) -> Any:
        if not counted:
            self._open += 1
        try:
            return await self._connect(within)
        except BaseException:
            self._open -= 1
            self._free_slot()
            raise

    # -- the watchdog --------------------------------------------------------------------------

    async def watch(self) -> None:
        """Fail every wait for a connection past its deadline, and close the connection of every
        statement past its instant (see the module docstring)."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            now = time.monotonic()
            for waiter, deadline in self._waiters:
                if now > deadline and not waiter.done():
                    waiter.set_exception(TimeoutError())
            for lease in self._leases:
                until = lease.until
                if until is not None and now > until and lease.raw is not None:
                    lease.until = None
                    if not lease.raw.is_closed():
                        lease.raw.terminate()

    # -- closing -------------------------------------------------------------------------------

    async def close(self, within: float) -> None:
        """Close the idle connections (politely, within ``within`` seconds, else abruptly) and
        every lent one as it comes back; waiters fail."""
        self._closed = True
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(ConnectionError("the pool is closed"))
        idle, self._idle = self._idle, []
        self._open -= len(idle)
        for raw in idle:
            try:
                await raw.close(timeout=within)
            except Exception:
                raw.terminate()
        for lease in list(self._leases):
            if lease.raw is not None and not lease.raw.is_closed():
                lease.raw.terminate()
