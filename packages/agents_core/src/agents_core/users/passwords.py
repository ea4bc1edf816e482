"""Password hashing with argon2id (slow, salted, parameters stored in the hash).

Each hash or verification holds 64 MiB (argon2's memory cost) for its duration. They run on
worker threads (the ``*_async`` functions); at most :data:`MAX_CONCURRENT_HASHES` run at
once in a process, so that a burst of logins costs CPU time, queued, rather than a multiple of
64 MiB of memory: the work is CPU-bound, and more hashes at once than cores finish no sooner.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "MAX_CONCURRENT_HASHES",
    "hash_password",
    "hash_password_async",
    "verify_against_nothing",
    "verify_password",
    "verify_password_async",
]

MAX_CONCURRENT_HASHES = max(1, os.cpu_count() or 1)
"""Hashes and verifications running at once in this process (one per core)."""

_hasher = PasswordHasher()
_slots = threading.BoundedSemaphore(MAX_CONCURRENT_HASHES)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when an email is unknown, so that login takes as long either
    way. Made on first use, not at import: a hash costs 64 MiB and tens of milliseconds, which
    every server process would otherwise pay at start-up."""
    with _slots:
        return _hasher.hash("this password never matches anything")


def hash_password(password: str) -> str:
    with _slots:
        return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    with _slots:
        try:
            return _hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False


def verify_against_nothing(password: str) -> None:
    verify_password(_dummy_hash(), password)


async def hash_password_async(password: str) -> str:
    """:func:`hash_password` on a worker thread (the event loop keeps serving meanwhile)."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """:func:`verify_password` on a worker thread; against nothing (same cost, always false)
    when there is no hash to check."""
    if password_hash is None:
        await asyncio.to_thread(verify_against_nothing, password)
        return False
    return await asyncio.to_thread(verify_password, password_hash, password)
