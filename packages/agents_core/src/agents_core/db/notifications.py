"""PostgreSQL notifications: a connection of its own that LISTENs on a channel.

The one place the change follower meets the driver; SQLite has no notifications (its followers
poll, see :attr:`Database.has_notifications <agents_core.db.Database.has_notifications>`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents_core.db.driver_errors import domain_error
from agents_core.errors import DatabaseUnavailable

__all__ = ["Listening"]


class Listening:
    """One LISTEN connection. ``on_notice(payload)`` is called for each notice, in commit
    order; ``on_lost()`` once, when the connection goes away."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.lost = asyncio.Event()

    @classmethod
    async def open(
        cls,
        dsn: str,
        channel: str,
        on_notice: Callable[[str], None],
        on_lost: Callable[[], None],
        *,
        connect_within: float,
    ) -> Listening:
        import asyncpg

        try:
            raw = await asyncpg.connect(dsn, timeout=connect_within)
        except Exception as exc:
            raise domain_error(exc) from exc
        listening = cls(raw)

        def lost(_conn: Any) -> None:
            on_lost()
            listening.lost.set()

        raw.add_termination_listener(lost)
        try:
            await raw.add_listener(channel, lambda _c, _pid, _ch, payload: on_notice(payload))
        except Exception as exc:
            raw.terminate()
            raise domain_error(exc) from exc
        return listening

    @property
    def pid(self) -> int:
        """The server process id of the listening connection."""
        return int(self._raw.get_server_pid())

    async def check(self, within: float) -> None:
        """A round trip within ``within`` seconds, or :class:`DatabaseUnavailable`."""
        try:
            async with asyncio.timeout(within):
                await self._raw.fetchval("SELECT 1")
        except Exception as exc:
            error = domain_error(exc)
            raise (
                error if isinstance(error, DatabaseUnavailable) else DatabaseUnavailable()
            ) from exc

    def close(self) -> None:
        if not self._raw.is_closed():
            self._raw.terminate()
