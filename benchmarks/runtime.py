"""Benchmark of the embedded agent catalog on a fresh PostgreSQL database.

    uv run python benchmarks/runtime.py

Creates a scratch database on the server named by ``AGENTS_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, measures, drops it, prints a
table and writes ``benchmarks/results/runtime.json``.

- cached ``get``: a hit in the in-process cache (target: median under 5 µs);
- uncached ``get`` and ``graph`` of a 20-agent handoff graph, one round trip each (counted);
- commit-to-eviction: from the moment a writer sends COMMIT (an update through
  ``AgentService``, on a connection of its own) to the moment a subscriber of the catalog is
  told that the entry was evicted (target: p99 under 50 ms).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import secrets
import statistics
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from agents_core.agents.service import AgentService
from agents_core.db import migrations
from agents_core.db.database import Database
from agents_core.db.models import Organization
from agents_core.runtime import AgentCatalog
from agents_core.schemas import AgentCreate, AgentUpdate

ADMIN_URL = os.environ.get(
    "AGENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).parent / "results" / "runtime.json"
GRAPH_SIZE = 20


def summary(samples: list[float], unit: float) -> dict[str, float]:
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] / unit

    return {
        "n": len(ordered),
        "median": statistics.median(ordered) / unit,
        "p90": pct(0.90),
        "p99": pct(0.99),
        "max": ordered[-1] / unit,
    }


async def build_graph(database: Database) -> tuple[UUID, list[UUID]]:
    """20 agents: a triage agent handing off to 19 experts, each handing back to it and on to
    the next expert (cycles everywhere, so every agent's graph is all 20)."""
    async with database.session() as session:
        organization = Organization(name="Benchmark")
        session.add(organization)
        await session.flush()
        org = organization.id
    async with database.transaction() as conn:
        service = AgentService(conn)
        experts = [
            (
                await service.create(
                    org,
                    AgentCreate(
                        name=f"Expert {i:02d}",
                        instructions="You are an expert. " * 50,
                        tools=["search", "calculator"],
                    ),
                )
            ).id
            for i in range(GRAPH_SIZE - 1)
        ]
        triage = await service.create(
            org,
            AgentCreate(name="Triage", instructions="Route the caller.", handoff_targets=experts),
        )
        for i, expert in enumerate(experts):
            targets = [triage.id, experts[(i + 1) % len(experts)]]
            await service.update(org, expert, AgentUpdate(handoff_targets=targets))
    return org, [triage.id, *experts]


async def measure(url: str) -> dict[str, Any]:
    writer = Database(url)
    reader = Database(url)  # the catalog's own: its statement counter is the catalog's alone
    try:
        await migrations.upgrade(writer)
        org, agents = await build_graph(writer)
        triage, first, second = agents[0], agents[1], agents[2]

        async with AgentCatalog.open(reader, max_entries=4096) as catalog:
            await catalog.sync()
            await catalog.get(org, triage)
            cached_samples = []
            for _ in range(50_000):
                start = time.perf_counter()
                await catalog.get(org, triage)
                cached_samples.append(time.perf_counter() - start)

        # A one-entry cache read alternately for two agents: every read is a miss.
        async with AgentCatalog.open(reader, max_entries=1) as catalog:
            await catalog.sync()
            get_samples, graph_samples = [], []
            before = reader.statements
            for i in range(1000):
                start = time.perf_counter()
                await catalog.get(org, agents[i % 2])
                get_samples.append(time.perf_counter() - start)
            get_statements = (reader.statements - before) / 1000
            before = reader.statements
            for i in range(1000):
                start = time.perf_counter()
                graph = await catalog.graph(org, agents[i % 2])
                graph_samples.append(time.perf_counter() - start)
            graph_statements = (reader.statements - before) / 1000
            assert len(graph) == GRAPH_SIZE
            assert catalog.stats.hits == 0

        async with AgentCatalog.open(reader) as catalog:
            await catalog.sync()
            latencies = []
            with catalog.changes() as changes:
                for i in range(300):
                    target = (first, second)[i % 2]
                    await catalog.get(org, target)
                    async with writer.connect() as conn, conn.transaction():
                        await AgentService(conn).update(
                            org, target, AgentUpdate(instructions=f"Edit {i}")
                        )
                        committing = time.perf_counter()
                    async for change in changes:
                        if change.agent_id == target:
                            break
                    latencies.append(time.perf_counter() - committing)
                    assert catalog.stats.entries == 0  # evicted
    finally:
        await reader.close()
        await writer.close()
    return {
        "cached_get_us": summary(cached_samples, 1e-6),
        "uncached_get_ms": summary(get_samples, 1e-3) | {"statements": get_statements},
        "uncached_graph_20_ms": summary(graph_samples, 1e-3) | {"statements": graph_statements},
        "commit_to_eviction_ms": summary(latencies, 1e-3),
    }


def machine(server: str) -> dict[str, Any]:
    return {
        "description": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()} "
        f"{platform.release()}, CPython {platform.python_version()}, PostgreSQL {server} on "
        "the same host (loopback TCP)",
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "postgresql": server,
    }


async def main() -> None:
    name = f"agents_bench_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        server = await admin.fetchval("SHOW server_version")
    finally:
        await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        results = await measure(url)
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    rows = [
        ("cached get", "µs", results["cached_get_us"], "median < 5 µs"),
        ("uncached get", "ms", results["uncached_get_ms"], "1 round trip"),
        (
            f"uncached graph, {GRAPH_SIZE} agents",
            "ms",
            results["uncached_graph_20_ms"],
            "1 round trip",
        ),
        ("commit → eviction", "ms", results["commit_to_eviction_ms"], "p99 < 50 ms"),
    ]
    print(f"{'measure':<28}{'unit':>5}{'median':>10}{'p90':>10}{'p99':>10}{'max':>10}  target")
    for label, unit, s, target in rows:
        extra = f" ({s['statements']:g} statement per read)" if "statements" in s else ""
        print(
            f"{label:<28}{unit:>5}{s['median']:>10.3f}{s['p90']:>10.3f}{s['p99']:>10.3f}"
            f"{s['max']:>10.3f}  {target}{extra}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "benchmark": "agents_core.runtime.AgentCatalog",
        "machine": machine(server),
        "results": results,
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nwritten to benchmarks/results/{RESULTS.name}")


if __name__ == "__main__":
    asyncio.run(main())
