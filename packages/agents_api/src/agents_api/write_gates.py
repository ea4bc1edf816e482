"""Writes to one resource queue in the process, not in the database's connection pool.

Two writes to the same agent serialize on its row lock anyway. Left to the database, every
queued writer would hold a pooled connection while it waits; a lock held for long (a stuck
transaction elsewhere) would then take the whole pool, and reads of *other* agents would wait
for a connection. So a route that writes one resource names it (``opt={"writes": "agent_id"}``),
and its requests pass one at a time through a gate per resource before they take a connection:
at most one connection per process waits on a resource's lock.

A request waits at its gate at most the database timeout; what remains of that time is the
deadline of every database wait that follows (:attr:`~agents_core.db.Connection.deadline`), so
a queue of writers behind a stuck lock all answer 503 within the timeout, not one after another.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager

from agents_core.db import Connection
from agents_core.errors import DatabaseUnavailable

__all__ = ["WRITES", "WriteGates"]

WRITES = "writes"
"""The route ``opt`` key naming the path parameter of the resource the route writes."""


class _Gate:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class WriteGates:
    """One gate per resource in use; a gate is dropped when its last user leaves."""

    __slots__ = ("_gates", "timeout")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._gates: dict[Hashable, _Gate] = {}

    @asynccontextmanager
    async def passing(self, key: Hashable, conn: Connection) -> AsyncIterator[None]:
        """Hold ``key``'s gate for the block; ``conn`` keeps the rest of the wait budget."""
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate()
        gate.users += 1
        try:
            if gate.lock.locked():
                deadline = time.monotonic() + self.timeout
                try:
                    async with asyncio.timeout(self.timeout):
                        await gate.lock.acquire()
                except TimeoutError:
                    raise DatabaseUnavailable() from None
                conn.deadline = deadline
            else:
                await gate.lock.acquire()
            try:
                yield
            finally:
                gate.lock.release()
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[key]

    def __len__(self) -> int:
        return len(self._gates)
