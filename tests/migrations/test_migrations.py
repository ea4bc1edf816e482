"""One alembic history: it matches the models and goes up, down and up again on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, String, Table, inspect
from sqlalchemy.pool import NullPool

from agents_core.db import migrations
from agents_core.db.database import Database, create_engine
from agents_core.db.models import metadata
from tests.conftest import create_scratch_database, drop_scratch_database

TABLES = {
    "organizations",
    "users",
    "api_keys",
    "agents",
    "agent_versions",
    "agent_events",
    "releases",
    "release_agents",
    "environments",
    "environment_moves",
}


@pytest.fixture(params=["postgresql", "sqlite"])
async def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "postgresql":
        url = await create_scratch_database("agents_migrations")
        database = Database(url)
        yield database
        await database.close()
        await drop_scratch_database(url)
    else:
        database = Database(f"sqlite:///{tmp_path}/migrations.db")
        yield database
        await database.close()


async def _inspect(database: Database, look: Any) -> Any:
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


async def _tables(database: Database) -> set[str]:
    names: list[str] = await _inspect(database, lambda c: inspect(c).get_table_names())
    return set(names) - {"alembic_version"}


async def _diff(database: Database) -> list[Any]:
    return await _inspect(  # type: ignore[no-any-return]
        database,
        lambda c: compare_metadata(
            MigrationContext.configure(c, opts={"compare_type": migrations.compare_type}),
            metadata,
        ),
    )


# SQLite cannot reflect expression indexes (lower(name), lower(email)); those are compared on
# PostgreSQL, the other parameter of this test.
@pytest.mark.filterwarnings("ignore:.*expression-based index")
async def test_models_and_migrations_agree(empty_db: Database) -> None:
    await migrations.upgrade(empty_db)
    assert await _diff(empty_db) == []


async def test_upgrade_downgrade_upgrade(empty_db: Database) -> None:
    await migrations.upgrade(empty_db)
    assert await _tables(empty_db) == TABLES
    assert await migrations.current_revision(empty_db) == migrations.head_revision()
    await migrations.downgrade(empty_db, "base")
    assert await _tables(empty_db) == set()
    assert await migrations.current_revision(empty_db) is None
    await migrations.upgrade(empty_db)
    assert await _tables(empty_db) == TABLES
    # Upgrading an up-to-date database is a no-op.
    await migrations.upgrade(empty_db)
    assert await migrations.current_revision(empty_db) == migrations.head_revision()


async def test_each_step_downgrades(empty_db: Database) -> None:
    await migrations.upgrade(empty_db)
    head = await migrations.current_revision(empty_db)
    await migrations.downgrade(empty_db, "-1")
    assert await migrations.current_revision(empty_db) != head
    await migrations.upgrade(empty_db)
    assert await migrations.current_revision(empty_db) == head


async def test_workers_starting_together_migrate_once() -> None:
    """Several processes starting at once on PostgreSQL: one migrates, the rest wait."""
    import asyncio

    url = await create_scratch_database("agents_migrations")
    databases = [Database(url) for _ in range(4)]
    try:
        await asyncio.gather(*(migrations.upgrade(db) for db in databases))
        assert await migrations.current_revision(databases[0]) == migrations.head_revision()
        assert await _tables(databases[0]) == TABLES
    finally:
        for db in databases:
            await db.close()
        await drop_scratch_database(url)


async def _run(database: Database, work: Any) -> Any:
    engine = create_engine(database.url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


async def test_existing_events_are_numbered_per_organization(empty_db: Database) -> None:
    """0002 gives the events already recorded their positions: 1, 2, 3 … per organization, in
    the order of their ids (their commit order); a downgrade drops the events without agent."""
    from datetime import UTC, datetime
    from uuid import uuid4

    from sqlalchemy import insert, select

    from agents_core.db.models import Agent, AgentEventRow, Organization

    await migrations.upgrade(empty_db, "0001")
    now = datetime.now(UTC)
    orgs = [uuid4(), uuid4()]
    agents = [uuid4(), uuid4()]
    organizations, agent_rows = Organization.__table__, Agent.__table__
    # The 0001 shape of the events table (no position, release or environment yet).
    events = Table(
        "agent_events",
        MetaData(),
        Column("id", Integer, primary_key=True),
        Column("organization_id", AgentEventRow.__table__.c.organization_id.type),
        Column("agent_id", AgentEventRow.__table__.c.organization_id.type),
        Column("version", Integer),
        Column("kind", String),
        Column("created_at", AgentEventRow.__table__.c.created_at.type),
    )

    def fill(conn: Any) -> None:
        for org, agent in zip(orgs, agents, strict=True):
            conn.execute(
                insert(organizations).values(id=org, name="Org", created_at=now, updated_at=now)
            )
            conn.execute(
                insert(agent_rows).values(
                    id=agent,
                    organization_id=org,
                    name="Agent",
                    instructions="Help.",
                    handoff_targets=[],
                    tools=[],
                    panels=[],
                    created_at=now,
                    updated_at=now,
                )
            )
        # Interleaved: org 0, org 1, org 0, org 0, org 1.
        for version, which in enumerate((0, 1, 0, 0, 1), start=1):
            conn.execute(
                insert(events).values(
                    organization_id=orgs[which],
                    agent_id=agents[which],
                    version=version,
                    kind="updated",
                    created_at=now,
                )
            )

    await _run(empty_db, fill)
    await migrations.upgrade(empty_db)

    table = AgentEventRow.__table__

    def positions(conn: Any) -> list[tuple[Any, ...]]:
        rows = conn.execute(
            select(table.c.organization_id, table.c.position, table.c.version).order_by(table.c.id)
        )
        return [tuple(row) for row in rows]

    assert await _run(empty_db, positions) == [
        (orgs[0], 1, 1),
        (orgs[1], 1, 2),
        (orgs[0], 2, 3),
        (orgs[0], 3, 4),
        (orgs[1], 2, 5),
    ]

    def release_event(conn: Any) -> None:
        conn.execute(
            insert(table).values(
                organization_id=orgs[0],
                position=4,
                agent_id=None,
                version=1,
                kind="released",
                release=1,
                created_at=now,
            )
        )

    await _run(empty_db, release_event)
    await migrations.downgrade(empty_db, "0001")

    def count(conn: Any) -> int:
        return len(conn.execute(select(events.c.id)).all())

    assert await _run(empty_db, count) == 5
