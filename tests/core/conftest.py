"""Fixtures for the core's tests: the same test on PostgreSQL and on SQLite."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agents_core.db import migrations
from agents_core.db.database import Database
from agents_core.db.models import Organization
from tests.conftest import orm_session


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


async def new_org(db: Database) -> uuid.UUID:
    """An organization without users (the core needs none, and no password gets hashed)."""
    async with orm_session(db) as session:
        organization = Organization(name=f"Org {secrets.token_hex(3)}")
        session.add(organization)
        await session.flush()
        return organization.id
