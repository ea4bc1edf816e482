"""The environment service's writes under concurrency, on PostgreSQL (SQLite has one writer)."""

from __future__ import annotations

import asyncio

import asyncpg

from agents_core.db.database import Database
from agents_core.environments.service import EnvironmentService
from agents_core.schemas import EnvironmentPut
from tests.conftest import acting
from tests.core.conftest import new_org
from tests.core.test_runtime import create, until
from tests.core.test_runtime_releases import release


async def test_a_writer_that_loses_the_race_to_create_an_environment_moves_it(
    pg_url: str,
) -> None:
    """Two processes' first deploys of one environment (no write gate between them): the first
    creates it; the second, which found no environment, waits on the name, then finds it created
    and moves it. Both succeed and the history has both."""
    database = Database(pg_url)
    watcher = await asyncpg.connect(pg_url)
    try:
        org = await new_org(database)
        await create(database, org, "Voice")
        await release(database, org)
        await release(database, org)

        async with acting(database, org, transaction=True) as first:
            created, was_created = await EnvironmentService(first).put(
                "production", EnvironmentPut(release=1)
            )

            async def second() -> tuple[int, bool]:
                async with acting(database, org) as scope:
                    moved, was_created = await EnvironmentService(scope).put(
                        "production", EnvironmentPut(release=2)
                    )
                return moved.revision, was_created

            racing = asyncio.create_task(second())
            # The second writer's insert waits for the first transaction (the unique name).
            await until(
                lambda: watcher.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'"
                )
            )
        assert (created.revision, was_created) == (1, True)
        assert await racing == (2, False)
        async with acting(database, org) as scope:
            moves = await EnvironmentService(scope).history("production")
        assert [(m.revision, m.release, m.previous_release) for m in moves.items] == [
            (2, 2, 1),
            (1, 1, None),
        ]
    finally:
        await watcher.close()
        await database.close()
