"""Run the project's alembic migrations from code (CLI, app start-up, tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from advanced_alchemy.types import GUID
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from agents_core.db.database import Database, create_engine

__all__ = [
    "alembic_config",
    "compare_type",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

_LOCK_KEY = 0x6167656E7473  # "agents": serializes migrations of several starting workers


def migrations_dir() -> Path:
    """``AGENTS_MIGRATIONS_DIR``, or the repository's top-level ``migrations/``."""
    configured = os.environ.get("AGENTS_MIGRATIONS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[5] / "migrations"


def alembic_config(database: Database | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if database is not None:
        config.set_main_option(
            "sqlalchemy.url",
            database.url.render_as_string(hide_password=False).replace("%", "%%"),
        )
    return config


def _engine(database: Database) -> AsyncEngine:
    """An engine of its own for a migration (the serving pool never runs DDL), closed after."""
    return create_engine(database.url, timeout=database.timeout, poolclass=NullPool)


async def _run(database: Database, action: Any) -> None:
    config = alembic_config(database)
    engine = _engine(database)
    try:
        await _run_on(engine, database, config, action)
    finally:
        await engine.dispose()


async def _run_on(engine: AsyncEngine, database: Database, config: Config, action: Any) -> None:
    async with engine.begin() as conn:
        if database.is_postgres:
            # Several workers starting at once: one migrates, the others wait, then find
            # nothing left to do.
            await conn.execute(select(func.pg_advisory_xact_lock(_LOCK_KEY)))

        def run(sync_conn: Any) -> None:
            config.attributes["connection"] = sync_conn
            action(config)

        await conn.run_sync(run)


async def upgrade(database: Database, revision: str = "head") -> None:
    await _run(database, lambda config: command.upgrade(config, revision))


async def downgrade(database: Database, revision: str = "-1") -> None:
    await _run(database, lambda config: command.downgrade(config, revision))


async def current_revision(database: Database) -> str | None:
    engine = _engine(database)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
            )
    finally:
        await engine.dispose()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def compare_type(
    context: Any,
    inspected_column: Any,
    metadata_column: Any,
    inspected_type: Any,
    metadata_type: Any,
) -> bool | None:
    """Alembic's type comparison, minus one false alarm.

    SQLite reflects advanced-alchemy's ``GUID`` (stored as ``BINARY(16)``) by type affinity as
    ``NUMERIC``; that is the same column, not a change. Everything else: alembic's default.
    """
    if context.dialect.name == "sqlite" and isinstance(metadata_type, GUID):
        return False
    return None
