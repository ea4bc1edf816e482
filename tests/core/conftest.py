"""Fixtures for the core's tests: the same test on PostgreSQL and on SQLite."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents_core.db import migrations
from agents_core.db.database import Database
from agents_core.organizations.repository import OrganizationRepository
from tests.conftest import StatementCount, counting_statements


@pytest.fixture(params=["postgresql", "sqlite"])
async def db(
    request: pytest.FixtureRequest, tmp_path: Path, pg_url: str
) -> AsyncIterator[Database]:
    """The session's PostgreSQL database, or a fresh migrated SQLite file."""
    if request.param == "postgresql":
        database = Database(pg_url)
    else:
        database = Database(f"sqlite:///{tmp_path}/core.db")
        await migrations.upgrade(database)
    yield database
    await database.close()


@pytest.fixture
def statements(db: Database) -> Iterator[StatementCount]:
    """The statements ``db``'s connections run during the test."""
    with counting_statements(db) as count:
        yield count


async def new_org(db: Database) -> uuid.UUID:
    """An organization without users (the core needs none, and no password gets hashed)."""
    async with db.connect() as conn:
        organization = await OrganizationRepository(conn).insert(
            uuid.uuid4(), f"Org {secrets.token_hex(3)}", datetime.now(UTC)
        )
    return organization.id
