"""The agent catalog on both databases: definitions, graphs, pinned versions, the cache."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.errors import AgentNotFound, VersionNotFound
from agents_core.runtime import AgentCatalog, ChangeStream
from agents_core.runtime.cache import MISSING, DependencyCache
from agents_core.schemas import AgentCreate, AgentModality, AgentUpdate, PanelType
from tests.conftest import StatementCount, acting
from tests.core.conftest import new_org

# -- helpers shared by the runtime tests ----------------------------------------------------------


async def create(db: Database, org: uuid.UUID, name: str, **fields: Any) -> uuid.UUID:
    data = AgentCreate(name=name, instructions=f"You are {name}.", **fields)
    async with acting(db, org, transaction=True) as scope:
        agent = await AgentService(scope).create(data)
    return agent.id


async def update(db: Database, org: uuid.UUID, agent_id: uuid.UUID, **fields: Any) -> int:
    async with acting(db, org, transaction=True) as scope:
        agent = await AgentService(scope).update(agent_id, AgentUpdate(**fields))
    return agent.current_version


async def wait_for_change(stream: ChangeStream, agent_id: uuid.UUID) -> None:
    """Until the catalog has applied a change of ``agent_id`` (at most one second)."""
    async with asyncio.timeout(1.0):
        async for change in stream:
            if change.agent_id == agent_id:
                return


@pytest.fixture
async def catalog(db: Database) -> AsyncIterator[AgentCatalog]:
    # No polling during these tests: statement counts stay exact on SQLite too.
    async with AgentCatalog.open(db, poll_interval=3600) as catalog:
        yield catalog


async def test_get_resolves_handoffs_in_order(
    db: Database, catalog: AgentCatalog, statements: StatementCount
) -> None:
    org = await new_org(db)
    b = await create(db, org, "Billing")
    c = await create(db, org, "Coding Expert")
    a = await create(
        db,
        org,
        "Triage",
        handoff_targets=[c, b],
        tools=["lookup", "escalate"],
        voice="alloy",
        modality=AgentModality.AUDIO_SCREENSHARE,
        panels=[PanelType.CODING_IDE],
    )
    # Every change above has been applied: nothing will evict what is loaded next.
    await catalog.sync()
    definition = await catalog.get(org, a)
    assert [(h.agent_id, h.name) for h in definition.handoffs] == [
        (c, "Coding Expert"),
        (b, "Billing"),
    ]
    assert definition.handoff_targets == [c, b]
    assert definition.name == "Triage"
    assert definition.version == 1
    assert definition.tools == ["lookup", "escalate"]
    assert definition.voice == "alloy"
    assert definition.modality is AgentModality.AUDIO_SCREENSHARE
    assert definition.panels == [PanelType.CODING_IDE]
    with pytest.raises(AttributeError):
        definition.name = "changed"  # type: ignore[misc]
    # Served from the cache: the same object, no statement.
    before = statements.value
    assert await catalog.get(org, a) is definition
    assert statements.value == before


async def test_graph_with_cycles_and_diamonds_in_one_query(
    db: Database, catalog: AgentCatalog, statements: StatementCount
) -> None:
    org = await new_org(db)
    # entry -> left, right; left -> bottom; right -> bottom (a diamond); bottom -> entry (a
    # cycle back to the start) and -> leaf; loner is in the organization but not reachable.
    bottom = await create(db, org, "Bottom")
    leaf = await create(db, org, "Leaf")
    left = await create(db, org, "Left", handoff_targets=[bottom])
    right = await create(db, org, "Right", handoff_targets=[bottom])
    entry = await create(db, org, "Entry", handoff_targets=[left, right])
    await create(db, org, "Loner", handoff_targets=[entry])
    await update(db, org, bottom, handoff_targets=[entry, leaf])
    # Another organization's agents are never reached.
    await create(db, await new_org(db), "Foreign")
    await catalog.sync()

    before = statements.value
    graph = await catalog.graph(org, entry)
    assert statements.value == before + 1
    assert graph.entry.id == entry
    assert list(graph.agents) == [entry, bottom, leaf, left, right]
    assert len(graph) == 5
    assert [h.name for h in graph[bottom].handoffs] == ["Entry", "Leaf"]
    assert graph[bottom].version == 2
    assert all(t in graph for d in graph for t in d.handoff_targets)

    # A graph from inside the cycle reaches the same agents.
    sub = await catalog.graph(org, left)
    assert set(sub.agents) == {entry, bottom, leaf, left, right}
    assert sub.entry.name == "Left"
    # A lone agent is a graph of one.
    lone = await catalog.graph(org, leaf)
    assert list(lone.agents) == [leaf]

    before = statements.value
    assert await catalog.graph(org, entry) is graph
    assert statements.value == before


async def test_uncached_get_is_one_statement(
    db: Database, catalog: AgentCatalog, statements: StatementCount
) -> None:
    org = await new_org(db)
    targets = [await create(db, org, f"Target {i}") for i in range(5)]
    a = await create(db, org, "Many", handoff_targets=targets)
    await catalog.sync()
    before = statements.value
    definition = await catalog.get(org, a)
    assert statements.value == before + 1
    assert [h.name for h in definition.handoffs] == [f"Target {i}" for i in range(5)]


async def test_foreign_missing_and_deleted_agents_are_not_found(
    db: Database, catalog: AgentCatalog
) -> None:
    org = await new_org(db)
    other = await new_org(db)
    a = await create(db, org, "Mine")
    gone = await create(db, org, "Gone")
    async with acting(db, org, transaction=True) as scope:
        await AgentService(scope).delete(gone)
    for organization_id, agent_id in [(other, a), (org, uuid.uuid4()), (org, gone)]:
        with pytest.raises(AgentNotFound):
            await catalog.get(organization_id, agent_id)
        with pytest.raises(AgentNotFound):
            await catalog.graph(organization_id, agent_id)
        with pytest.raises(AgentNotFound):
            await catalog.get_version(organization_id, agent_id, 1)
    # The owner still sees it.
    assert (await catalog.get(org, a)).name == "Mine"


async def test_pinned_versions_return_the_snapshot(db: Database, catalog: AgentCatalog) -> None:
    org = await new_org(db)
    expert = await create(db, org, "Expert")
    other = await create(db, org, "Other")
    a = await create(db, org, "Pinned", handoff_targets=[expert])
    assert await update(db, org, a, instructions="Second.", handoff_targets=[other]) == 2
    assert await update(db, org, a, instructions="Third.", tools=["t"]) == 3

    first = await catalog.get_version(org, a, 1)
    assert first.version == 1
    assert first.instructions == "You are Pinned."
    assert [(h.agent_id, h.name) for h in first.handoffs] == [(expert, "Expert")]
    assert first.tools == []
    second = await catalog.get_version(org, a, 2)
    assert second.instructions == "Second."
    assert [h.name for h in second.handoffs] == ["Other"]
    current = await catalog.get_version(org, a, 3)
    assert current == await catalog.get(org, a)
    assert current.instructions == "Third."
    assert current.tools == ["t"]
    for missing in (0, 4, 2**31):
        with pytest.raises(VersionNotFound):
            await catalog.get_version(org, a, missing)

    # A target deleted since the version was saved is left out of its handoffs.
    with catalog.changes() as changes:
        async with acting(db, org, transaction=True) as scope:
            await AgentService(scope).delete(expert)
        if not db.is_postgres:
            await catalog.poll()
        await wait_for_change(changes, expert)
    pinned = await catalog.get_version(org, a, 1)
    assert pinned.handoffs == ()
    assert pinned.handoff_targets == []


async def test_cache_is_bounded_lru(db: Database, statements: StatementCount) -> None:
    org = await new_org(db)
    a, b, c = [await create(db, org, name) for name in ("A", "B", "C")]
    async with AgentCatalog.open(db, max_entries=2, poll_interval=3600) as catalog:
        await catalog.sync()
        await catalog.get(org, a)
        await catalog.get(org, b)
        await catalog.get(org, a)  # a is now the most recently used
        await catalog.get(org, c)  # evicts b
        assert catalog.stats.entries == 2
        assert catalog.stats.evictions == 1
        before = statements.value
        await catalog.get(org, a)
        await catalog.get(org, c)
        assert statements.value == before
        await catalog.get(org, b)
        assert statements.value == before + 1


async def test_concurrent_misses_share_one_load(
    db: Database, catalog: AgentCatalog, statements: StatementCount
) -> None:
    org = await new_org(db)
    a = await create(db, org, "Popular")
    await catalog.sync()
    before = statements.value
    results = await asyncio.gather(*(catalog.get(org, a) for _ in range(20)))
    assert statements.value == before + 1
    assert all(r is results[0] for r in results)


async def test_catalog_opens_from_a_url_and_a_database(db: Database) -> None:
    org = await new_org(db)
    a = await create(db, org, "Opened")
    url = db.url.render_as_string(hide_password=False)
    async with AgentCatalog.open(url, poll_interval=3600) as catalog:
        assert (await catalog.get(org, a)).name == "Opened"
    async with AgentCatalog.open(db, poll_interval=3600) as catalog:
        assert (await catalog.get(org, a)).name == "Opened"
        assert catalog.stats.listening


async def test_definition_encodes_as_json(db: Database, catalog: AgentCatalog) -> None:
    org = await new_org(db)
    b = await create(db, org, "B")
    a = await create(db, org, "A", handoff_targets=[b])
    data = msgspec.json.decode(msgspec.json.encode(await catalog.get(org, a)))
    assert data["handoffs"] == [{"agent_id": str(b), "name": "B"}]
    assert data["modality"] == "audio_only"


def test_dependency_cache_refuses_a_load_older_than_an_eviction() -> None:
    cache = DependencyCache(10)
    a, b = uuid.uuid4(), uuid.uuid4()
    generation = cache.generation
    cache.evict(a)  # a change arrives while the load is running
    assert cache.put("k", "stale", {a}, generation) is False
    assert cache.get("k") is MISSING
    assert cache.put("k", "fresh", {a, b}, cache.generation) is True
    assert cache.get("k") == "fresh"
    # Any agent the entry was built from evicts it; its other dependency is forgotten too.
    assert cache.evict(b) == 1
    assert cache.get("k") is MISSING
    assert cache.evict(a) == 0
    assert len(cache) == 0
    with pytest.raises(ValueError, match="max_entries"):
        DependencyCache(0)


async def until(condition: Callable[[], Awaitable[object]], *, limit: float = 5.0) -> None:
    """Wait until ``condition()`` is truthy, checking every 10 ms (a state, not a duration)."""
    for _ in range(int(limit / 0.01)):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never became true")
