"""Following the event feed: who tells the catalog that something changed.

On PostgreSQL (:class:`NotificationFollower`) every write ``pg_notify``s its events (an agent's
change, an environment's move: see :mod:`agents_core.events.repository`), and
PostgreSQL delivers a notice only after the transaction has committed and is visible to new
snapshots. The follower LISTENs on a connection of its own and passes each notice on. When the
connection is lost it says so at once (the catalog stops trusting its cache) and reconnects;
once LISTEN is active again it says the feed is found again (the catalog starts afresh), so no
cached entry survives a notice it may have missed. A loss the client cannot see (a silent
network failure) is found by a health check every ``health_check_interval`` seconds.

SQLite has no notifications: :class:`PollingFollower` reads the events table every
``poll_interval`` seconds (ids there are in commit order, since SQLite has one writer at a
time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Protocol
from uuid import UUID

from sqlalchemy import bindparam, func, select

from agents_core.db import Database, Query
from agents_core.db.notifications import Listening
from agents_core.errors import DatabaseUnavailable
from agents_core.events.repository import (
    ENVIRONMENT_KINDS,
    NOTIFY_CHANNEL,
    AgentNotice,
    EventRepository,
    StoredEvent,
    read_notice,
)

__all__ = ["ChangeFollower", "FeedListener", "NotificationFollower", "PollingFollower", "follower"]

logger = logging.getLogger("agents_core.runtime")

_POLL_BATCH = 1000
_SYNC_PREFIX = "sync:"
_SYNC = Query(select(func.pg_notify(bindparam("channel"), bindparam("payload"))))


class FeedListener(Protocol):
    """What a follower tells (the catalog)."""

    def changed(self, organization_id: UUID, agent_id: UUID, version: int) -> None: ...

    def moved(self, organization_id: UUID, environment: str, revision: int) -> None:
        """The environment was moved (or deleted): it serves another release now."""

    def lost(self) -> None:
        """The feed may have been missed from now on."""

    def found(self, *, first: bool) -> None:
        """The feed is followed (again): every change from now on will be told."""

    def unreadable(self, payload: str) -> None:
        """A notice that says nothing usable arrived: anything may have changed."""


class ChangeFollower:
    """Follows the feed in a task of its own until closed."""

    def __init__(self, database: Database, listener: FeedListener) -> None:
        self._database = database
        self._listener = listener
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Returns once changes from now on will be told."""
        raise NotImplementedError

    async def sync(self) -> None:
        """Returns once every change committed before the call has been told."""
        raise NotImplementedError

    async def poll(self) -> int:
        """Tell the changes recorded since the last look; returns how many. A follower that is
        told of changes as they commit has nothing to look for."""
        return 0

    async def close(self) -> None:
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def listener_pid(self) -> int | None:
        """The server process id of the listening connection, if there is one."""
        return None


class NotificationFollower(ChangeFollower):
    def __init__(
        self,
        database: Database,
        listener: FeedListener,
        *,
        health_check_interval: float,
        reconnect_delay: tuple[float, float],
    ) -> None:
        super().__init__(database, listener)
        self._health_check_interval = health_check_interval
        self._reconnect_delay = reconnect_delay
        self._pid: int | None = None
        self._listening = False
        self._sync_waiters: dict[str, asyncio.Future[None]] = {}

    @property
    def listener_pid(self) -> int | None:
        return self._pid

    async def start(self) -> None:
        if self._task is not None:
            return
        connected: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._listen(connected), name="agent-catalog-listen")
        await connected

    async def sync(self) -> None:
        """Sends a marker notice and waits for it: notices arrive in commit order, so every
        earlier change's notice has been told when it comes back."""
        if not self._listening:
            return  # nothing is served from the cache until the feed is back
        token = secrets.token_hex(8)
        arrived = asyncio.get_running_loop().create_future()
        self._sync_waiters[token] = arrived
        try:
            async with self._database.connect() as conn:
                await conn.fetch(
                    _SYNC, {"channel": NOTIFY_CHANNEL, "payload": _SYNC_PREFIX + token}
                )
            await arrived
        finally:
            self._sync_waiters.pop(token, None)

    def _lost(self) -> None:
        self._listening = False
        self._listener.lost()
        # With the cache out of use, whoever waits for a sync is in sync.
        for waiter in self._sync_waiters.values():
            if not waiter.done():
                waiter.set_result(None)

    def _on_notice(self, payload: str) -> None:
        if payload.startswith(_SYNC_PREFIX):
            waiter = self._sync_waiters.get(payload[len(_SYNC_PREFIX) :])
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
            return
        try:
            notice = read_notice(payload)
        except ValueError:
            self._listener.unreadable(payload)
            return
        if isinstance(notice, AgentNotice):
            self._listener.changed(notice.organization_id, notice.agent_id, notice.version)
        else:
            self._listener.moved(notice.organization_id, notice.environment, notice.revision)

    async def _listen(self, connected: asyncio.Future[None]) -> None:
        delay = self._reconnect_delay[0]
        while True:
            listening: Listening | None = None
            try:
                listening = await self._database.listen(NOTIFY_CHANNEL, self._on_notice, self._lost)
                # LISTEN is active: every commit from now on reaches us.
                self._pid = listening.pid
                self._listening = True
                self._listener.found(first=not connected.done())
                if not connected.done():
                    connected.set_result(None)
                delay = self._reconnect_delay[0]
                await self._watch(listening)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not connected.done():
                    connected.set_exception(exc)
                    return
                logger.warning("agent catalog lost its change feed: %s; reconnecting", exc)
            finally:
                self._lost()
                self._pid = None
                if listening is not None:
                    listening.close()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect_delay[1])

    async def _watch(self, listening: Listening) -> None:
        """Return when the connection is lost, or stops answering a health check."""
        while not listening.lost.is_set():
            try:
                async with asyncio.timeout(self._health_check_interval):
                    await listening.lost.wait()
                return
            except TimeoutError:
                pass
            try:
                await listening.check(self._health_check_interval)
            except DatabaseUnavailable as exc:
                logger.warning("agent catalog health check failed: %s", exc)
                return


class PollingFollower(ChangeFollower):
    def __init__(self, database: Database, listener: FeedListener, *, poll_interval: float) -> None:
        super().__init__(database, listener)
        self._poll_interval = poll_interval
        self._last_event_id = 0
        self._following = False

    async def start(self) -> None:
        if self._task is not None:
            return
        async with self._database.connect() as conn:
            self._last_event_id = await EventRepository(conn).last_id()
        self._following = True
        self._listener.found(first=True)
        self._task = asyncio.create_task(self._poll_forever(), name="agent-catalog-poll")

    async def sync(self) -> None:
        await self.poll()

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("agent catalog could not poll the events table: %s", exc)
                self._following = False
                self._listener.lost()

    async def poll(self) -> int:
        """Tell the events recorded since the last poll; returns how many."""
        told = 0
        while True:
            async with self._database.connect() as conn:
                events = await EventRepository(conn).after(self._last_event_id, _POLL_BATCH)
            if not self._following:
                self._following = True
                self._listener.found(first=False)
            for event in events:
                self._tell(event)
                self._last_event_id = event.id
            told += len(events)
            if len(events) < _POLL_BATCH:
                return told

    def _tell(self, event: StoredEvent) -> None:
        if event.agent_id is not None:
            self._listener.changed(event.organization_id, event.agent_id, event.version)
        elif event.kind in ENVIRONMENT_KINDS and event.environment is not None:
            self._listener.moved(event.organization_id, event.environment, event.version)
        # A release created changes nothing that is served.


def follower(
    database: Database,
    listener: FeedListener,
    *,
    poll_interval: float,
    health_check_interval: float,
    reconnect_delay: tuple[float, float],
) -> ChangeFollower:
    """The way to follow ``database``'s feed: notifications where the database has them."""
    if database.has_notifications:
        return NotificationFollower(
            database,
            listener,
            health_check_interval=health_check_interval,
            reconnect_delay=reconnect_delay,
        )
    return PollingFollower(database, listener, poll_interval=poll_interval)
