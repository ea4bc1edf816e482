"""Every change records its event in its own transaction, on both databases; on PostgreSQL the
events of one organization are numbered in commit order, so the feed's cursor never skips one."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from sqlalchemy import select

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.db.models import AgentEventRow
from agents_core.errors import VersionMismatch
from agents_core.events.repository import NOTIFY_CHANNEL, Event, EventRepository
from agents_core.events.service import EventService
from agents_core.schemas import AgentEventKind, AgentExport, AgentUpdate
from tests.conftest import acting, orm_session
from tests.core.conftest import new_org
from tests.core.test_runtime import create, update


async def events_of(db: Database, org: uuid.UUID) -> list[tuple[uuid.UUID, int, str]]:
    async with acting(db, org) as scope:
        page = await EventService(scope).page(limit=500)
    return [(e.agent_id, e.version, e.kind.value) for e in page.events]


async def test_every_kind_of_change_records_one_event(db: Database) -> None:
    org = await new_org(db)
    expert = await create(db, org, "Expert")
    triage = await create(db, org, "Triage", handoff_targets=[expert])
    await update(db, org, triage, instructions="Second.")
    async with acting(db, org, transaction=True) as scope:
        service = AgentService(scope)
        await service.restore(triage, 1)
        copy = await service.duplicate(triage)
    async with acting(db, org, transaction=True) as scope:
        # Force: the two agents that hand off to the expert lose it first (each an update).
        await AgentService(scope).delete(expert, force=True)
    async with acting(db, org) as scope:
        result = await AgentService(scope).import_agents(
            [
                AgentExport(name="Imported One", instructions="x"),
                AgentExport(name="Imported Two", instructions="y", handoff_targets=["Triage"]),
            ],
        )
    one, two = (a.id for a in result.agents)
    # A request that changes nothing records nothing.
    await update(db, org, triage, instructions="You are Triage.")

    recorded = await events_of(db, org)
    assert recorded[:5] == [
        (expert, 1, "created"),
        (triage, 1, "created"),
        (triage, 2, "updated"),
        (triage, 3, "restored"),
        (copy.id, 1, "duplicated"),
    ]
    # The forced delete: the referrers' updates (in either order), then the delete itself.
    assert sorted(recorded[5:7]) == sorted([(triage, 4, "updated"), (copy.id, 2, "updated")])
    assert recorded[7:] == [
        (expert, 1, "deleted"),
        (one, 1, "imported"),
        (two, 1, "imported"),
    ]
    assert {kind for _, _, kind in recorded} == {k.value for k in AgentEventKind} - {
        "released",
        "deployed",
        "undeployed",
    }
    # Another organization's feed is its own.
    assert await events_of(db, await new_org(db)) == []


async def test_a_rolled_back_change_records_no_event(db: Database) -> None:
    org = await new_org(db)
    agent_id = await create(db, org, "Steady")

    async def fail_after_the_write() -> None:
        async with acting(db, org, transaction=True) as scope:
            await AgentService(scope).update(agent_id, AgentUpdate(instructions="Never."))
            raise RuntimeError("the request fails after the write")

    with pytest.raises(RuntimeError):
        await fail_after_the_write()
    with pytest.raises(VersionMismatch):
        async with acting(db, org, transaction=True) as scope:
            await AgentService(scope).update(
                agent_id, AgentUpdate(instructions="Never."), expected_version=7
            )
    assert await events_of(db, org) == [(agent_id, 1, "created")]


async def test_a_rolled_back_change_sends_no_notice(pg_url: str) -> None:
    database = Database(pg_url)
    listener = await asyncpg.connect(pg_url)
    received: list[str] = []
    arrived = asyncio.Event()

    def on_notice(*args: object) -> None:
        received.append(str(args[3]))
        arrived.set()

    try:
        org = await new_org(database)
        agent_id = await create(database, org, "Quiet")
        await listener.add_listener(NOTIFY_CHANNEL, on_notice)

        async def roll_back() -> None:
            async with acting(database, org, transaction=True) as scope:
                await AgentService(scope).update(agent_id, AgentUpdate(instructions="No."))
                raise RuntimeError("rolled back")

        with pytest.raises(RuntimeError):
            await roll_back()
        await update(database, org, agent_id, instructions="Yes.")
        async with asyncio.timeout(1):
            await arrived.wait()
        # Notices arrive in commit order: had the rolled-back one been sent, it would be first.
        assert received == [f"{org}:{agent_id}:2"]
    finally:
        await listener.close()
        await database.close()


async def test_events_of_an_organization_are_numbered_in_commit_order(pg_url: str) -> None:
    """An event is numbered when its transaction commits: a writer whose transaction is still
    open holds no one up, and its event comes after those committed before it."""
    database = Database(pg_url)
    try:
        org, other_org = await new_org(database), await new_org(database)
        a = await create(database, org, "A")
        b = await create(database, org, "B")
        c = await create(database, other_org, "C")
        async with acting(database, org) as scope:
            cursor = (await EventService(scope).page()).next_cursor

        first = database.connection()
        first_transaction = first.transaction()
        await first_transaction.__aenter__()
        await EventRepository(first).record(
            [Event(org, a, 9, AgentEventKind.UPDATED)], actor_id=None
        )
        # Another writer of the organization, and one of another organization, go ahead.
        async with asyncio.timeout(5):
            async with database.transaction() as conn:
                await EventRepository(conn).record(
                    [Event(org, b, 9, AgentEventKind.UPDATED)], actor_id=None
                )
            async with database.transaction() as conn:
                await EventRepository(conn).record(
                    [Event(other_org, c, 9, AgentEventKind.UPDATED)], actor_id=None
                )
        async with acting(database, org) as scope:
            page = await EventService(scope).page(after=cursor)
        assert [(e.agent_id, e.version) for e in page.events] == [(b, 9)]
        await first_transaction.__aexit__(None, None, None)
        await first.release()
        async with acting(database, org) as scope:
            page = await EventService(scope).page(after=cursor)
        assert [(e.agent_id, e.version) for e in page.events] == [(b, 9), (a, 9)]
    finally:
        await database.close()


async def test_concurrent_writers_number_their_events_without_gaps(pg_url: str) -> None:
    """Many transactions of one organization committing at once: their events get positions
    1 … n, each once, in the order their transactions committed."""
    database = Database(pg_url, pool_size=8)
    try:
        org = await new_org(database)
        agents = [await create(database, org, f"W{n}") for n in range(3)]

        async def writer(n: int) -> None:
            agent_id = agents[n % len(agents)]
            async with database.transaction() as conn:
                await EventRepository(conn).record(
                    [
                        Event(org, agent_id, 100 + n, AgentEventKind.UPDATED),
                        Event(org, agent_id, 200 + n, AgentEventKind.UPDATED),
                    ],
                    actor_id=None,
                )

        await asyncio.gather(*(writer(n) for n in range(24)))
        rows = await _positions(pg_url, org)
        assert [position for position, _ in rows] == list(range(1, len(rows) + 1))
        # The two events of one transaction are consecutive: numbered at its commit.
        by_position = [version for _, version in rows if version >= 100]
        pairs = [(v, by_position[i + 1]) for i, v in enumerate(by_position) if 100 <= v < 200]
        assert len(pairs) == 24
        assert all(second == first + 100 for first, second in pairs)
    finally:
        await database.close()


async def _positions(pg_url: str, org: uuid.UUID) -> list[tuple[int, int]]:
    conn = await asyncpg.connect(pg_url)
    try:
        rows = await conn.fetch(
            "SELECT position, version FROM agent_events WHERE organization_id = $1"
            " ORDER BY position",
            org,
        )
        return [(int(r[0]), int(r[1])) for r in rows]
    finally:
        await conn.close()


async def test_recorded_event_rows_hold_the_actor(db: Database) -> None:
    org = await new_org(db)
    actor = uuid.uuid4()
    agent_id = await create(db, org, "Acted")
    async with db.transaction() as conn:
        await EventRepository(conn).record(
            [Event(org, agent_id, 5, AgentEventKind.UPDATED)], actor_id=actor
        )
    async with orm_session(db) as session:
        rows = (
            await session.execute(
                select(AgentEventRow.actor_id, AgentEventRow.version)
                .where(AgentEventRow.organization_id == org)
                .order_by(AgentEventRow.id)
            )
        ).all()
    assert [tuple(r) for r in rows] == [(None, 1), (actor, 5)]
