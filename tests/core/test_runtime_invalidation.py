"""The catalog follows changes: LISTEN/NOTIFY on PostgreSQL (through a lost connection too),
polling on SQLite. Nothing is served stale once the catalog has seen a change's notice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from agents_core.db import migrations
from agents_core.db.database import Database
from agents_core.events.repository import NOTIFY_CHANNEL
from agents_core.runtime import AgentCatalog
from tests.conftest import Account, CreateAgent
from tests.core.test_runtime import create, new_org, until, update, wait_for_change


@pytest.fixture
async def catalog(pg_url: str) -> AsyncIterator[AgentCatalog]:
    # Its own database object: its own pools, apart from the app's.
    async with AgentCatalog.open(pg_url) as catalog:
        yield catalog


async def test_api_update_is_seen_within_a_second_and_never_stale_after_the_notice(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, catalog: AgentCatalog
) -> None:
    agent = await create_agent(name="Live")
    agent_id = uuid.UUID(agent["id"])
    org = admin.organization_id
    assert (await catalog.get(org, agent_id)).version == 1

    noticed = asyncio.Event()
    stale_after_notice: list[int] = []
    reads_after_notice = 0

    async def watch() -> None:
        with catalog.changes() as changes:
            await wait_for_change(changes, agent_id)
        noticed.set()

    async def hammer() -> None:
        # Reads all along; every read that starts once the notice is in must be fresh.
        nonlocal reads_after_notice
        while True:
            started_after_notice = noticed.is_set()
            definition = await catalog.get(org, agent_id)
            if started_after_notice:
                reads_after_notice += 1
                if definition.version != 2 or definition.instructions != "Updated.":
                    stale_after_notice.append(definition.version)
                if reads_after_notice >= 50:
                    return
            await asyncio.sleep(0)

    watcher = asyncio.create_task(watch())
    reader = asyncio.create_task(hammer())
    await asyncio.sleep(0)
    response = await client.patch(
        f"/api/v1/agents/{agent_id}", json={"instructions": "Updated."}, headers=admin.headers
    )
    assert response.status_code == 200, response.text
    async with asyncio.timeout(1.0):
        await watcher
    async with asyncio.timeout(5.0):
        await reader
    assert stale_after_notice == []
    assert reads_after_notice == 50
    assert catalog.stats.changes >= 1


async def test_a_load_that_started_before_a_notice_is_not_cached(
    pg_url: str, catalog: AgentCatalog
) -> None:
    database = Database(pg_url)
    try:
        org = await new_org(database)
        agent_id = await create(database, org, "Racing")
        await catalog.sync()
        blocker = await asyncpg.connect(pg_url)
        try:
            # Hold the catalog's query at the door, send a change notice while it waits, then
            # let it through: its result must not be stored.
            tx = blocker.transaction()
            await tx.start()
            await blocker.execute("LOCK TABLE agent_versions IN ACCESS EXCLUSIVE MODE")
            load = asyncio.create_task(catalog.get(org, agent_id))
            await until(
                lambda: blocker.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    " AND relation = 'agent_versions'::regclass"
                )
            )
            with catalog.changes() as changes:
                await blocker.execute(
                    "SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"{org}:{agent_id}:1"
                )
                await tx.commit()  # the notice is delivered at commit; the lock goes with it
                await wait_for_change(changes, agent_id)
            assert (await load).name == "Racing"
        finally:
            await blocker.close()
        assert catalog.stats.entries == 0
        before = catalog.stats.misses
        await catalog.get(org, agent_id)
        assert catalog.stats.misses == before + 1
        assert catalog.stats.entries == 1
    finally:
        await database.close()


async def test_dependent_entries_follow_their_handoff_targets(
    pg_url: str, catalog: AgentCatalog
) -> None:
    database = Database(pg_url)
    try:
        org = await new_org(database)
        expert = await create(database, org, "Expert")
        triage = await create(database, org, "Triage", handoff_targets=[expert])
        assert [h.name for h in (await catalog.get(org, triage)).handoffs] == ["Expert"]
        assert [d.name for d in await catalog.graph(org, triage)] == ["Triage", "Expert"]
        with catalog.changes() as changes:
            await update(database, org, expert, name="Renamed Expert")
            await wait_for_change(changes, expert)
        # Only the target changed; the triage agent's definition and graph follow it.
        assert [h.name for h in (await catalog.get(org, triage)).handoffs] == ["Renamed Expert"]
        assert [d.name for d in await catalog.graph(org, triage)] == ["Triage", "Renamed Expert"]
    finally:
        await database.close()


async def test_a_dropped_listen_connection_is_survived_without_a_stale_read(
    pg_url: str, catalog: AgentCatalog
) -> None:
    database = Database(pg_url)
    try:
        org = await new_org(database)
        agent_id = await create(database, org, "Survivor")
        assert (await catalog.get(org, agent_id)).version == 1
        old_pid = catalog.listener_pid
        assert old_pid is not None
        with catalog.changes() as changes:
            admin = await asyncpg.connect(pg_url)
            try:
                # Waits until the backend is gone: from here on no notice can reach the catalog.
                assert await admin.fetchval("SELECT pg_terminate_backend($1, 5000)", old_pid)
            finally:
                await admin.close()
            # A change committed while the catalog has no listener: its notice is lost.
            assert await update(database, org, agent_id, instructions="While away.") == 2
            assert (await catalog.get(org, agent_id)).version == 2
            # The catalog reconnects, drops its cache and tells its subscribers to reload.
            async with asyncio.timeout(5):
                async for change in changes:
                    if change.is_reset:
                        break
        assert catalog.listener_pid not in (None, old_pid)
        assert catalog.stats.resets == 1
        assert catalog.stats.listening
        assert (await catalog.get(org, agent_id)).instructions == "While away."
        # And it follows changes again.
        with catalog.changes() as changes:
            assert await update(database, org, agent_id, instructions="Back.") == 3
            await wait_for_change(changes, agent_id)
        assert (await catalog.get(org, agent_id)).instructions == "Back."
    finally:
        await database.close()


async def test_sqlite_catalog_polls_the_events_table(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/poll.db")
    try:
        await migrations.upgrade(database)
        org = await new_org(database)
        expert = await create(database, org, "Expert")
        triage = await create(database, org, "Triage", handoff_targets=[expert])
        async with AgentCatalog.open(database, poll_interval=0.02) as catalog:
            assert (await catalog.graph(org, triage)).entry.version == 1
            assert (await catalog.get(org, expert)).name == "Expert"
            with catalog.changes() as changes:
                await update(database, org, expert, name="Polled Expert")
                await update(database, org, triage, instructions="Polled.")
                await wait_for_change(changes, triage)
            graph = await catalog.graph(org, triage)
            assert graph.entry.instructions == "Polled."
            assert graph[expert].name == "Polled Expert"
            assert (await catalog.get(org, expert)).name == "Polled Expert"
            assert catalog.stats.changes == 2
    finally:
        await database.close()
