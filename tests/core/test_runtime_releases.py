"""The catalog through an environment: resolve and graph serve the release the environment
points at (at its pinned versions), cached, one round trip when not; moves evict what the
environment served, on both databases."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.environments.service import EnvironmentService
from agents_core.errors import AgentNotFound, EnvironmentNotFound
from agents_core.events.repository import NOTIFY_CHANNEL
from agents_core.releases.service import ReleaseService
from agents_core.runtime import AgentCatalog, ChangeStream
from agents_core.schemas import Canary, EnvironmentPut, ReleaseCreate
from tests.conftest import StatementCount, acting
from tests.core.conftest import new_org
from tests.core.test_runtime import create, until, update


async def release(db: Database, org: uuid.UUID, *agents: uuid.UUID) -> int:
    async with acting(db, org) as scope:
        created = await ReleaseService(scope).create(ReleaseCreate(agents=list(agents) or None))
    return created.number


async def deploy(
    db: Database,
    org: uuid.UUID,
    number: int,
    name: str = "production",
    canary: Canary | None = None,
) -> int:
    async with acting(db, org) as scope:
        environment, _ = await EnvironmentService(scope).put(
            name, EnvironmentPut(release=number, canary=canary)
        )
    return environment.revision


async def wait_for_move(stream: ChangeStream, environment: str) -> int:
    """Until the catalog has applied a move of ``environment``; its revision."""
    async with asyncio.timeout(1.0):
        async for change in stream:
            if change.environment == environment:
                assert not change.is_reset
                assert change.version is not None
                return change.version
    raise AssertionError("the stream ended")


@pytest.fixture
async def catalog(db: Database) -> AsyncIterator[AgentCatalog]:
    # No polling during these tests: statement counts stay exact on SQLite too.
    async with AgentCatalog.open(db, poll_interval=3600) as catalog:
        yield catalog


async def test_resolve_serves_the_release_while_the_working_configuration_moves_on(
    db: Database, catalog: AgentCatalog
) -> None:
    org = await new_org(db)
    expert = await create(db, org, "Expert", voice="verse")
    triage = await create(db, org, "Triage", handoff_targets=[expert])
    await release(db, org)
    await deploy(db, org, 1)
    # The working configuration moves on: renamed, edited, deleted.
    await update(db, org, expert, name="Expert Renamed", instructions="New.")
    await update(db, org, triage, instructions="Triage, edited.")
    async with acting(db, org, transaction=True) as scope:
        await AgentService(scope).delete(expert, force=True)
    await catalog.sync()

    served = await catalog.resolve(org, triage, environment="production")
    assert (served.release, served.version, served.instructions) == (1, 1, "You are Triage.")
    assert served.handoff_targets == [expert]
    assert [(h.agent_id, h.name) for h in served.handoffs] == [(expert, "Expert")]
    gone = await catalog.resolve(org, expert, environment="production", call_id="call-1")
    assert (gone.name, gone.voice, gone.version, gone.release) == ("Expert", "verse", 1, 1)
    # The working configuration is served without an environment, as before.
    working = await catalog.get(org, triage)
    assert (working.release, working.version, working.handoff_targets) == (None, 3, [])
    with pytest.raises(AgentNotFound):
        await catalog.get(org, expert)


async def test_a_graph_through_an_environment_is_the_release_s_graph(
    db: Database, catalog: AgentCatalog
) -> None:
    org = await new_org(db)
    billing = await create(db, org, "Billing")
    coding = await create(db, org, "Coding")
    triage = await create(db, org, "Triage", handoff_targets=[billing, coding])
    await update(db, org, coding, handoff_targets=[triage])  # a cycle
    unrelated = await create(db, org, "Unrelated")
    await release(db, org)
    await deploy(db, org, 1)
    # Afterwards: triage drops billing and hands off to a new agent; billing is deleted.
    newcomer = await create(db, org, "Newcomer")
    await update(db, org, triage, handoff_targets=[coding, newcomer])
    async with acting(db, org, transaction=True) as scope:
        await AgentService(scope).delete(billing)
    await catalog.sync()

    graph = await catalog.graph(org, triage, environment="production")
    assert graph.release == 1
    assert list(graph.agents) == [triage, billing, coding]  # entry first, then by name
    assert {a.version for a in graph} == {1, 2}
    assert graph[coding].version == 2
    assert graph.entry.handoff_targets == [billing, coding]
    assert all(d.release == 1 for d in graph)
    assert unrelated not in graph
    # Every handoff target of the release's graph is in it.
    assert all(h.agent_id in graph for d in graph for h in d.handoffs)

    working = await catalog.graph(org, triage)
    assert set(working.agents) == {triage, coding, newcomer}
    assert working.release is None
    # A graph from an agent the release does not hold.
    with pytest.raises(AgentNotFound):
        await catalog.graph(org, newcomer, environment="production")


async def test_one_round_trip_when_not_cached_none_when_cached(
    db: Database, catalog: AgentCatalog, statements: StatementCount
) -> None:
    org = await new_org(db)
    leaves = [await create(db, org, f"Leaf {i}") for i in range(5)]
    entry = await create(db, org, "Entry", handoff_targets=leaves)
    await release(db, org)
    await deploy(db, org, 1, canary=None)
    await catalog.sync()

    before = statements.value
    graph = await catalog.graph(org, entry, environment="production")
    assert statements.value == before + 1
    assert len(graph) == 6
    # The graph's agents are now cached for resolve too.
    before = statements.value
    for agent_id in (entry, *leaves):
        assert (await catalog.resolve(org, agent_id, environment="production")).release == 1
    assert await catalog.graph(org, entry, environment="production") is graph
    assert statements.value == before

    # A fresh catalog: resolve first, one statement; again, none.
    async with AgentCatalog.open(db, poll_interval=3600) as fresh:
        before = statements.value
        first = await fresh.resolve(org, entry, environment="production")
        assert statements.value == before + 1
        assert await fresh.resolve(org, entry, environment="production") is first
        # The environment is known now: another agent of the release is one statement.
        await fresh.resolve(org, leaves[0], environment="production")
        assert statements.value == before + 2
        # And a graph from a known environment, one statement.
        await fresh.graph(org, leaves[1], environment="production")
        assert statements.value == before + 3
        assert fresh.stats.hits == 1


async def test_missing_environments_and_agents_not_released(
    db: Database, catalog: AgentCatalog
) -> None:
    org = await new_org(db)
    agent = await create(db, org, "Released")
    await release(db, org)
    await deploy(db, org, 1)
    later = await create(db, org, "Later")
    other = await new_org(db)
    for organization, environment in ((org, "staging"), (other, "production")):
        with pytest.raises(EnvironmentNotFound):
            await catalog.resolve(organization, agent, environment=environment)
        with pytest.raises(EnvironmentNotFound):
            await catalog.graph(organization, agent, environment=environment)
    with pytest.raises(AgentNotFound):
        await catalog.resolve(org, later, environment="production")
    with pytest.raises(AgentNotFound):
        await catalog.graph(org, later, environment="production")


async def test_a_move_evicts_what_the_environment_served(db: Database) -> None:
    """After a move's notice (PostgreSQL) or the poll that sees it (SQLite), the catalog serves
    the new release; the move is not a reset, and entries of other things stay."""
    org = await new_org(db)
    agent = await create(db, org, "Voice")
    await release(db, org)
    await update(db, org, agent, instructions="Second.")
    await release(db, org)
    await deploy(db, org, 1)
    async with AgentCatalog.open(db, poll_interval=3600) as catalog:
        await catalog.sync()
        assert (await catalog.resolve(org, agent, environment="production")).release == 1
        await catalog.get(org, agent)  # a working-configuration entry
        with catalog.changes() as changes:
            revision = await deploy(db, org, 2)
            await catalog.sync()
            assert await wait_for_move(changes, "production") == revision
        served = await catalog.resolve(org, agent, environment="production")
        assert (served.release, served.instructions) == (2, "Second.")
        assert catalog.stats.resets == 0
        hits = catalog.stats.hits
        assert (await catalog.get(org, agent)).version == 2
        assert catalog.stats.hits == hits + 1  # still cached: the move evicted only production

        # Rolled back, then deleted.
        async with acting(db, org) as scope:
            await EnvironmentService(scope).rollback("production")
        await catalog.sync()
        assert (await catalog.resolve(org, agent, environment="production")).release == 1
        async with acting(db, org) as scope:
            await EnvironmentService(scope).delete("production")
        await catalog.sync()
        with pytest.raises(EnvironmentNotFound):
            await catalog.resolve(org, agent, environment="production")


async def test_the_canary_sends_the_same_call_to_the_same_release(
    db: Database, catalog: AgentCatalog
) -> None:
    org = await new_org(db)
    agent = await create(db, org, "Voice")
    await release(db, org)
    await update(db, org, agent, instructions="Canary.")
    await release(db, org)
    await deploy(db, org, 1, canary=Canary(release=2, weight=20))
    await catalog.sync()
    async with acting(db, org) as scope:
        service = EnvironmentService(scope)
        for i in range(100):
            call_id = f"call-{i}"
            served = await catalog.resolve(org, agent, environment="production", call_id=call_id)
            assert served == await catalog.resolve(
                org, agent, environment="production", call_id=call_id
            )
            over_http = await service.resolve("production", agent, call_id=call_id)
            assert (served.release, served.version) == (over_http.release, over_http.version)
            graph = await catalog.graph(org, agent, environment="production", call_id=call_id)
            assert graph.release == served.release
    assert (await catalog.resolve(org, agent, environment="production")).release == 1


async def test_a_load_that_started_before_a_move_s_notice_is_not_cached(pg_url: str) -> None:
    """A worker never serves a release older than the last move it was told of."""
    database = Database(pg_url)
    try:
        org = await new_org(database)
        agent = await create(database, org, "Racing")
        await release(database, org)
        await deploy(database, org, 1)
        async with AgentCatalog.open(database) as catalog:
            await catalog.sync()
            blocker = await asyncpg.connect(pg_url)
            try:
                tx = blocker.transaction()
                await tx.start()
                await blocker.execute("LOCK TABLE environments IN ACCESS EXCLUSIVE MODE")
                load = asyncio.create_task(catalog.resolve(org, agent, environment="production"))
                await until(
                    lambda: blocker.fetchval(
                        "SELECT count(*) FROM pg_locks WHERE NOT granted"
                        " AND relation = 'environments'::regclass"
                    )
                )
                with catalog.changes() as changes:
                    await blocker.execute(
                        "SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, f"env:{org}:production:9"
                    )
                    await tx.commit()
                    assert await wait_for_move(changes, "production") == 9
                assert (await load).release == 1
            finally:
                await blocker.close()
            # Nothing of that load was kept: the next resolve reads again.
            misses = catalog.stats.misses
            await catalog.resolve(org, agent, environment="production")
            assert catalog.stats.misses == misses + 1
            await catalog.resolve(org, agent, environment="production")
            assert catalog.stats.misses == misses + 1
    finally:
        await database.close()
