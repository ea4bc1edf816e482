"""A worker's Prometheus view of its agent catalog, on both databases."""

from __future__ import annotations

import subprocess
import sys

from prometheus_client import CollectorRegistry, generate_latest

from agents_core.db.database import Database
from agents_core.runtime import AgentCatalog
from agents_core.runtime.metrics import register_catalog_metrics
from tests.core.conftest import new_org
from tests.core.test_runtime import create, update, wait_for_change


async def test_catalog_metrics_follow_its_lookups_and_changes(db: Database) -> None:
    registry = CollectorRegistry()
    org = await new_org(db)
    agent = await create(db, org, "Measured")
    async with AgentCatalog.open(db, poll_interval=3600) as catalog:
        collector = register_catalog_metrics(catalog, registry, labels={"catalog": "main"})
        labels = {"catalog": "main"}

        def value(name: str) -> float | None:
            return registry.get_sample_value(name, labels)

        assert value("agents_catalog_listening") == 1
        assert value("agents_catalog_hits_total") == 0
        await catalog.sync()
        await catalog.get(org, agent)  # a miss: read from the database
        await catalog.get(org, agent)  # a hit
        await catalog.get(org, agent)  # a hit
        assert value("agents_catalog_misses_total") == 1
        assert value("agents_catalog_hits_total") == 2
        assert value("agents_catalog_entries") == 1
        changes = value("agents_catalog_changes_total")
        assert changes is not None

        with catalog.changes() as stream:
            await update(db, org, agent, voice="sage")
            if db.is_postgres:
                await wait_for_change(stream, agent)
            else:
                await catalog.poll()
        assert value("agents_catalog_changes_total") == changes + 1
        assert value("agents_catalog_evictions_total") == 1  # the cached definition
        assert value("agents_catalog_unfollowed_seconds") == 0
        assert value("agents_catalog_resets_total") == 0
        assert b"agents_catalog_hits_total" in generate_latest(registry)

        registry.unregister(collector)
        assert value("agents_catalog_hits_total") is None
    # Closed, the catalog no longer uses its cache: the metrics say so, and for how long.
    register_catalog_metrics(catalog, registry)
    assert registry.get_sample_value("agents_catalog_listening") == 0
    lost_for = registry.get_sample_value("agents_catalog_unfollowed_seconds")
    assert lost_for is not None
    assert lost_for >= 0
    assert registry.get_sample_value("agents_catalog_unfollowed_seconds") >= lost_for


def test_the_catalog_does_not_need_prometheus_client() -> None:
    script = "import sys; import agents_core.runtime; print('prometheus_client' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "False"
