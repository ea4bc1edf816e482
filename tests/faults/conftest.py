"""Fixtures for the fault tests: a throwaway PostgreSQL cluster for the session (migrated once),
the API served on it as a real process for each test, and an HTTP client for that process.

The server runs with a short database timeout and small pools, so that faults show within
seconds and a handful of concurrent requests is enough to exhaust a pool. Each test gets a server
of its own: in-process counters (login throttling, rate limits) and whatever a fault left behind
in one test never reach the next.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.cluster import PostgresCluster, ServedApp, server_binaries

DB_TIMEOUT = 2.0
"""``AGENTS_DB_TIMEOUT`` of the served app, in seconds."""

POOL_SIZE = 2
"""``AGENTS_DB_POOL_SIZE`` of the served app."""


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    bindir = server_binaries()
    if bindir is None:
        pytest.skip(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on this machine: "
            "not found through pg_config --bindir, /usr/lib/postgresql/*/bin or PATH"
        )
    cluster = PostgresCluster.start(bindir)
    try:
        cluster.migrate()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def served_app(postgres_cluster: PostgresCluster, tmp_path: Path) -> Iterator[ServedApp]:
    app = ServedApp.start(
        postgres_cluster.url,
        tmp_path,
        AGENTS_DB_TIMEOUT=str(int(DB_TIMEOUT)),
        AGENTS_DB_POOL_SIZE=str(POOL_SIZE),
    )
    try:
        yield app
    finally:
        app.stop()
        # Shown by pytest with a failing test's report ("Captured stdout teardown").
        print(f"--- server output ({app.log.name}) ---\n{app.output()}")


@pytest.fixture
async def api(served_app: ServedApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the served app that can hold a few hundred requests open at once."""
    limits = httpx.Limits(max_connections=400, max_keepalive_connections=400)
    async with httpx.AsyncClient(base_url=served_app.base_url, limits=limits, timeout=30) as client:
        yield client
