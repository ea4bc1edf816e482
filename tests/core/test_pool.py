"""The PostgreSQL pool: connections lent first come, first served, every wait bounded, a closed
connection's place given to the next in line, and a statement past its time cut off."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Integer, bindparam, func, literal_column, select, text

from agents_core.db import Connection, Database, Query
from agents_core.errors import DatabaseUnavailable

_BACKEND_PID = Query(select(func.pg_backend_pid()))
_ONE = Query(select(literal_column("1")))
_TERMINATE = Query(select(func.pg_terminate_backend(bindparam("pid", type_=Integer()))))
_NO_SERVER_TIMEOUT = Query(text("SET LOCAL statement_timeout = 0"))
_SLEEP = Query(select(func.pg_sleep(literal_column("5"))))


@pytest.fixture
async def database(pg_url: str) -> AsyncIterator[Database]:
    """Here, a database whose pool holds one connection."""
    database = Database(pg_url, pool_size=1)
    yield database
    await database.close()


async def _pid(conn: Connection) -> int:
    row = await conn.fetchrow(_BACKEND_PID, {})
    assert row is not None
    return int(row[0])


async def _until(condition: object, what: str) -> None:
    for _ in range(2000):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.001)
    raise AssertionError(f"never: {what}")


async def test_a_connection_given_back_goes_to_the_longest_waiter(database: Database) -> None:
    served: list[str] = []
    holder = database.connection()
    first_pid = await _pid(holder)

    async def request(name: str) -> None:
        conn = database.connection()
        try:
            pid = await _pid(conn)
            served.append(name)
            assert pid == first_pid  # the one connection, reused, never a second
        finally:
            await conn.release()

    early = asyncio.create_task(request("early"))
    await _until(lambda: database.pool_status().waiting == 1, "the first waiter queues")
    late = asyncio.create_task(request("late"))
    await _until(lambda: database.pool_status().waiting == 2, "the second waiter queues")
    await holder.release()
    await asyncio.gather(early, late)
    assert served == ["early", "late"]
    status = database.pool_status()
    assert (status.size, status.in_use, status.waiting) == (1, 0, 0)


async def test_waiting_for_a_connection_is_bounded_by_the_timeout(pg_url: str) -> None:
    database = Database(pg_url, pool_size=1, timeout=0.3)
    try:
        holder = database.connection()
        await _pid(holder)
        started = time.monotonic()
        waiter = database.connection()
        with pytest.raises(DatabaseUnavailable):
            await _pid(waiter)
        waited = time.monotonic() - started
        assert 0.3 <= waited < 2
        assert database.pool_status().waiting == 0  # the waiter left the line
        await holder.release()
        # The pool still serves: the connection held all along is lent again.
        again = database.connection()
        await _pid(again)
        await again.release()
    finally:
        await database.close()


async def test_a_closed_connection_gives_its_place_to_the_next_in_line(database: Database) -> None:
    holder = database.connection()
    dead_pid = await _pid(holder)
    waiter = asyncio.create_task(_lease_pid(database))
    await _until(lambda: database.pool_status().waiting == 1, "the waiter queues")
    # The server ends the held connection (as a restart or an administrator would).
    await _terminate(database, dead_pid)
    with pytest.raises(DatabaseUnavailable):
        await holder.fetch(_ONE, {})  # the connection is gone under it
    await holder.release()
    new_pid = await asyncio.wait_for(waiter, 5)
    assert new_pid != dead_pid
    assert database.pool_status().size == 1


async def _terminate(database: Database, pid: int) -> None:
    """End a server process from another connection."""
    other = Database(database.url, pool_size=1)
    try:
        async with other.connect() as conn:
            await conn.fetch(_TERMINATE, {"pid": pid})
    finally:
        await other.close()


async def _lease_pid(database: Database) -> int:
    conn = database.connection()
    try:
        return await _pid(conn)
    finally:
        await conn.release()


async def test_a_transaction_left_open_is_not_lent_again(database: Database) -> None:
    conn = database.connection()
    pid = await _pid(conn)
    await conn._simple("BEGIN")  # type: ignore[attr-defined]
    await conn.release()  # released inside a transaction: its state is unknown
    assert await _lease_pid(database) != pid


async def test_a_statement_past_its_time_is_cut_off_on_our_side(pg_url: str) -> None:
    """What a server that stopped answering looks like from here: the statement runs on, the
    server's own timeout off. The watchdog closes its connection soon after the timeout."""
    database = Database(pg_url, pool_size=1, timeout=0.5)
    try:
        conn = database.connection()
        pid = await _pid(conn)
        started = time.monotonic()

        async def sleep_on() -> None:
            async with conn.transaction():
                await conn.execute(_NO_SERVER_TIMEOUT, {})
                await conn.fetch(_SLEEP, {})

        with pytest.raises(DatabaseUnavailable):
            await sleep_on()
        took = time.monotonic() - started
        assert 0.5 <= took < 1.5
        await conn.release()
        assert await _lease_pid(database) != pid  # that connection is not reused
    finally:
        await database.close()
