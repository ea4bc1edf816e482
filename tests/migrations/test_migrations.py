"""One alembic history: it matches the models and goes up, down and up again on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
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
