"""Request ids: the client's own ``X-Request-ID`` when it is acceptable, otherwise a new one.

The id of the request being served is held in a context variable, so that whatever runs for
the request (the problem document, a log line) can name it without being handed it.
"""

from __future__ import annotations

import itertools
import os
import re
from contextvars import ContextVar

__all__ = ["REQUEST_ID_HEADER", "accepted_request_id", "current_request_id", "new_request_id"]

REQUEST_ID_HEADER = b"x-request-id"

_ACCEPTED = re.compile(rb"[A-Za-z0-9._-]{1,128}")

current = ContextVar[str | None]("agents_request_id", default=None)
"""The id of the request this code runs for (None outside a request)."""


def current_request_id() -> str | None:
    return current.get()


def accepted_request_id(value: bytes) -> str | None:
    """The client's id when it is 1-128 characters of ``[A-Za-z0-9._-]``, else None."""
    if _ACCEPTED.fullmatch(value) is None:
        return None
    return value.decode("ascii")


class _IdSource:
    """Ids unique across processes and restarts without a random draw per request: a random
    prefix per process and a counter. The prefix is drawn again in a forked child."""

    __slots__ = ("counter", "prefix")

    def __init__(self) -> None:
        self.renew()

    def renew(self) -> None:
        self.prefix = os.urandom(6).hex()
        self.counter = itertools.count(1)


_source = _IdSource()
os.register_at_fork(after_in_child=_source.renew)


def new_request_id() -> str:
    return f"{_source.prefix}-{next(_source.counter):x}"
