# ruff: noqa: E402  (imports follow the sys.path fix below)
"""Benchmark of the embedded agent catalog on a fresh PostgreSQL database.

    uv run python benchmarks/runtime.py

Creates a scratch database on the server named by ``AGENTS_BENCH_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``), migrates it, measures, drops it, prints a
table and writes ``benchmarks/results/runtime.json``.

The working configuration (``get``, ``graph`` without an environment):

- cached ``get``: a hit in the in-process cache (target: median under 5 µs);
- uncached ``get`` and ``graph`` of a 20-agent handoff graph, one round trip each (counted);
- commit-to-eviction: from the moment a writer sends COMMIT (an update through
  ``AgentService``, on a connection of its own) to the moment a subscriber of the catalog is
  told that the entry was evicted (target: p99 under 50 ms).

Through the ``production`` environment (a release of the 20 agents, a canary of 20 %):

- cached ``resolve``, without a call id and with one (the canary rule's hash on every call)
  (target: median under 5 µs);
- uncached ``resolve`` and ``graph(..., environment=)`` of the 20 agents, one round trip each
  (counted);
- move-to-eviction: from the COMMIT of a deploy (``EnvironmentService.put``) to the moment a
  subscriber is told the environment moved, after which ``resolve`` reads the new release
  (target: p99 under 50 ms).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path; it holds ``http.py``, which
# would shadow the standard library's ``http`` (needed by httpx) for every later import. The
# repository's root goes there instead: the statement counter is the tests' own.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, str(Path(_HERE).parent))

import asyncio
import json
import platform
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from agents_core.agents.service import AgentService
from agents_core.db import migrations
from agents_core.db.database import Database
from agents_core.environments.service import EnvironmentService
from agents_core.organizations.repository import OrganizationRepository
from agents_core.releases.service import ReleaseService
from agents_core.runtime import AgentCatalog
from agents_core.schemas import AgentCreate, AgentUpdate, Canary, EnvironmentPut, ReleaseCreate
from agents_core.service import Scope
from tests.conftest import counting_statements

ADMIN_URL = os.environ.get(
    "AGENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).parent / "results" / "runtime.json"
GRAPH_SIZE = 20
ENVIRONMENT = "production"


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
    the next expert (cycles everywhere, so every agent's graph is all 20). Then two releases of
    them (the second after an edit of every expert), ``production`` at the first with the
    second as a 20 % canary."""
    async with database.connect() as conn:
        organization = await OrganizationRepository(conn).insert(
            uuid4(), "Benchmark", datetime.now(UTC)
        )
    org = organization.id
    async with database.transaction() as conn:
        service = AgentService(Scope(conn, org))
        experts = [
            (
                await service.create(
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
            AgentCreate(name="Triage", instructions="Route the caller.", handoff_targets=experts),
        )
        for i, expert in enumerate(experts):
            targets = [triage.id, experts[(i + 1) % len(experts)]]
            await service.update(expert, AgentUpdate(handoff_targets=targets))
    async with database.connect() as conn:
        scope = Scope(conn, org)
        releases = ReleaseService(scope)
        await releases.create(ReleaseCreate(message="First"))
        for expert in experts:
            await AgentService(scope).update(expert, AgentUpdate(voice="verse"))
        await releases.create(ReleaseCreate(message="Second"))
        await EnvironmentService(scope).put(
            ENVIRONMENT, EnvironmentPut(release=1, canary=Canary(release=2, weight=20))
        )
    return org, [triage.id, *experts]


async def timed(call: Callable[[], Awaitable[Any]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await call()
        samples.append(time.perf_counter() - start)
    return samples


async def measure(url: str) -> dict[str, Any]:
    writer = Database(url)
    reader = Database(url)  # the catalog's own: its statements are counted alone
    try:
        await migrations.upgrade(writer)
        org, agents = await build_graph(writer)
        triage, first, second = agents[0], agents[1], agents[2]

        async with AgentCatalog.open(reader, max_entries=4096) as catalog:
            await catalog.sync()
            await catalog.get(org, triage)
            cached_samples = await timed(lambda: catalog.get(org, triage), 50_000)
            await catalog.resolve(org, triage, environment=ENVIRONMENT)
            cached_resolve = await timed(
                lambda: catalog.resolve(org, triage, environment=ENVIRONMENT), 50_000
            )
            call_ids = [f"call-{i}" for i in range(1000)]
            for call_id in call_ids:  # both releases' definitions in the cache
                await catalog.resolve(org, triage, environment=ENVIRONMENT, call_id=call_id)
            calls = iter(call_ids * 50)
            cached_resolve_call = await timed(
                lambda: catalog.resolve(org, triage, environment=ENVIRONMENT, call_id=next(calls)),
                50_000,
            )

        # A one-entry cache read alternately for two agents: every read is a miss. (A load
        # through an environment fills several entries; with room for one, none survives to
        # answer the next call.)
        async with AgentCatalog.open(reader, max_entries=1) as catalog:
            await catalog.sync()
            results: dict[str, Any] = {}
            for name, read in (
                ("uncached_get_ms", lambda i: catalog.get(org, agents[i % 2])),
                ("uncached_graph_20_ms", lambda i: catalog.graph(org, agents[i % 2])),
                (
                    "uncached_resolve_ms",
                    lambda i: catalog.resolve(org, agents[i % 2], environment=ENVIRONMENT),
                ),
                (
                    "uncached_environment_graph_20_ms",
                    lambda i: catalog.graph(org, agents[i % 2], environment=ENVIRONMENT),
                ),
            ):
                samples = []
                with counting_statements(reader) as statements:
                    for i in range(1000):
                        start = time.perf_counter()
                        found = await read(i)
                        samples.append(time.perf_counter() - start)
                    if name.endswith("graph_20_ms"):
                        assert len(found) == GRAPH_SIZE
                results[name] = summary(samples, 1e-3) | {"statements": statements.value / 1000}
            assert catalog.stats.hits == 0

        async with AgentCatalog.open(reader) as catalog:
            await catalog.sync()
            latencies = []
            with catalog.changes() as changes:
                for i in range(300):
                    target = (first, second)[i % 2]
                    await catalog.get(org, target)
                    async with writer.connect() as conn, conn.transaction():
                        await AgentService(Scope(conn, org)).update(
                            target, AgentUpdate(instructions=f"Edit {i}")
                        )
                        committing = time.perf_counter()
                    async for change in changes:
                        if change.agent_id == target:
                            break
                    latencies.append(time.perf_counter() - committing)
                    assert catalog.stats.entries == 0  # evicted

        async with AgentCatalog.open(reader) as catalog:
            await catalog.sync()
            moves = []
            with catalog.changes() as changes:
                for i in range(300):
                    release = 2 - i % 2  # 2, 1, 2, 1 …
                    await catalog.resolve(org, triage, environment=ENVIRONMENT)
                    async with writer.connect() as conn, conn.transaction():
                        await EnvironmentService(Scope(conn, org)).put(
                            ENVIRONMENT, EnvironmentPut(release=release)
                        )
                        committing = time.perf_counter()
                    async for change in changes:
                        if change.environment == ENVIRONMENT:
                            break
                    moves.append(time.perf_counter() - committing)
                    served = await catalog.resolve(org, triage, environment=ENVIRONMENT)
                    assert served.release == release  # the move evicted what was served
    finally:
        await reader.close()
        await writer.close()
    return {
        "cached_get_us": summary(cached_samples, 1e-6),
        "cached_resolve_us": summary(cached_resolve, 1e-6),
        "cached_resolve_call_id_us": summary(cached_resolve_call, 1e-6),
        **results,
        "commit_to_eviction_ms": summary(latencies, 1e-3),
        "move_to_eviction_ms": summary(moves, 1e-3),
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
        ("cached resolve", "µs", results["cached_resolve_us"], "median < 5 µs"),
        ("cached resolve, call id", "µs", results["cached_resolve_call_id_us"], "median < 5 µs"),
        ("uncached resolve", "ms", results["uncached_resolve_ms"], "1 round trip"),
        (
            f"uncached env. graph, {GRAPH_SIZE}",
            "ms",
            results["uncached_environment_graph_20_ms"],
            "1 round trip",
        ),
        ("move → eviction", "ms", results["move_to_eviction_ms"], "p99 < 50 ms"),
    ]
    print(f"{'measure':<30}{'unit':>5}{'median':>10}{'p90':>10}{'p99':>10}{'max':>10}  target")
    for label, unit, s, target in rows:
        extra = f" ({s['statements']:g} statement per read)" if "statements" in s else ""
        print(
            f"{label:<30}{unit:>5}{s['median']:>10.3f}{s['p90']:>10.3f}{s['p99']:>10.3f}"
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
