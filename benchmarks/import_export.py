# ruff: noqa: E402  (imports follow the sys.path fix below)
"""Bulk import and export of 1,000 agents through the real app on PostgreSQL.

    uv run python benchmarks/import_export.py [--agents 1000] [--rounds 7]

Creates a scratch database on the server named by ``AGENTS_BENCH_POSTGRES_URL`` (default:
postgres on 127.0.0.1:5432), migrates it, and drives the real Litestar app in process through
``httpx.ASGITransport`` (request encoding, routing, authentication, validation, the database
round trips and response encoding all count). Each round signs up a fresh organization,
imports the whole batch in one ``POST /api/v1/agents/import`` and exports it with
``GET /api/v1/agents/export``. The first round warms up (connection pools, prepared
statements) and is not counted. Prints median / min / max and writes
``benchmarks/results/import_export.json``. The database is dropped at the end.

Targets: import under 1.5 s, export under 0.3 s.
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path; it holds ``http.py``, which
# would shadow the standard library's ``http`` (needed by httpx) for every later import.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
# The statement counter is the test suite's wrapper (production connections count nothing).
sys.path.insert(0, os.path.dirname(_HERE))

import argparse
import asyncio
import json
import logging
import platform
import secrets
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from agents_api.app import create_app
from agents_api.settings import Settings
from agents_core.db import migrations
from agents_core.db.database import Database
from tests.conftest import counting_statements

ADMIN_URL = os.environ.get(
    "AGENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).parent / "results" / "import_export.json"
IMPORT_TARGET_S = 1.5
EXPORT_TARGET_S = 0.3

INSTRUCTIONS = (
    "You are {name}, a voice agent for a software company. Greet the caller briefly, find out "
    "what they need with at most two questions, and help in short spoken sentences. When the "
    "request belongs to a colleague, say who you are handing over to and why, then hand off."
)


def batch(size: int) -> list[dict[str, Any]]:
    """``size`` agents: one triage agent per ten, each handing off to its nine experts (some
    named later in the batch), and the experts handing back to their triage agent."""
    agents: list[dict[str, Any]] = []
    for i in range(size):
        group = i // 10
        triage = f"Triage {group:04d}"
        name = triage if i % 10 == 0 else f"Expert {group:04d}-{i % 10}"
        experts = [f"Expert {group:04d}-{k}" for k in range(1, 10) if group * 10 + k < size]
        agents.append(
            {
                "name": name,
                "instructions": INSTRUCTIONS.format(name=name),
                "model": "gpt-4.1-mini",
                "voice": "alloy" if i % 2 else None,
                "modality": ("audio_only", "audio_camera", "audio_screenshare")[i % 3],
                "panels": ["notepad", "coding_ide"] if i % 4 == 0 else [],
                "tools": ["search_docs", f"tool_{i % 13}"],
                "handoff_targets": experts if name == triage else [triage],
            }
        )
    return agents


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "system": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        # Other work on the machine shows in the figures; this says how much there was.
        "load_average_1m": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
    }


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 4),
        "min_s": round(min(values), 4),
        "max_s": round(max(values), 4),
    }


async def run(size: int, rounds: int) -> dict[str, Any]:
    name = f"agents_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        server_version = await admin.fetchval("SHOW server_version")
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    try:
        await migrations.upgrade(database)
        settings = Settings(
            env="test",
            database_url=url,
            secret_key=secrets.token_urlsafe(48),
            migrate_on_start=False,
        )
        app = create_app(settings, database=database)
        # One line per request would drown the figures.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        body = json.dumps({"agents": batch(size)}).encode()
        imports: list[float] = []
        exports: list[float] = []
        statements: list[int] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            for round_ in range(rounds + 1):
                signup = await client.post(
                    "/api/v1/auth/signup",
                    json={
                        "organization_name": f"Bench {round_}",
                        "email": f"bench-{round_}-{secrets.token_hex(3)}@example.com",
                        "password": "benchmark password",
                    },
                )
                signup.raise_for_status()
                headers = {
                    "Authorization": f"Bearer {signup.json()['access_token']}",
                    "Content-Type": "application/json",
                }

                with counting_statements(database) as counted:
                    start = time.perf_counter()
                    imported = await client.post(
                        "/api/v1/agents/import", content=body, headers=headers
                    )
                    import_s = time.perf_counter() - start
                import_statements = counted.value
                imported.raise_for_status()
                assert imported.json()["created"] == size, imported.text[:500]

                start = time.perf_counter()
                exported = await client.get("/api/v1/agents/export", headers=headers)
                export_s = time.perf_counter() - start
                exported.raise_for_status()
                assert len(exported.json()) == size

                if round_ == 0:
                    continue  # warm-up
                imports.append(import_s)
                exports.append(export_s)
                statements.append(import_statements)
                print(
                    f"round {round_}: import {import_s * 1000:7.1f} ms "
                    f"({import_statements} statements), export {export_s * 1000:6.1f} ms"
                )
        export_bytes = len(exported.content)
    finally:
        await database.close()
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    result = {
        "benchmark": "import_export",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "agents": size,
        "rounds": rounds,
        "transport": "in-process ASGI (httpx.ASGITransport) against the real app",
        "import_request_bytes": len(body),
        "export_response_bytes": export_bytes,
        "import": {**summary(imports), "target_s": IMPORT_TARGET_S},
        "export": {**summary(exports), "target_s": EXPORT_TARGET_S},
        "import_sql_statements": statements[0] if len(set(statements)) == 1 else statements,
        "machine": {**machine(), "postgresql": server_version},
    }
    result["import"]["met"] = result["import"]["median_s"] < IMPORT_TARGET_S
    result["export"]["met"] = result["export"]["median_s"] < EXPORT_TARGET_S
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000, help="agents per import")
    parser.add_argument("--rounds", type=int, default=7, help="measured rounds (after a warm-up)")
    args = parser.parse_args()
    result = asyncio.run(run(args.agents, args.rounds))
    imp, exp = result["import"], result["export"]
    print(
        f"\n{args.agents} agents, median of {args.rounds} rounds: "
        f"import {imp['median_s'] * 1000:.1f} ms (target < {IMPORT_TARGET_S * 1000:.0f} ms, "
        f"{'met' if imp['met'] else 'MISSED'}), "
        f"export {exp['median_s'] * 1000:.1f} ms (target < {EXPORT_TARGET_S * 1000:.0f} ms, "
        f"{'met' if exp['met'] else 'MISSED'}); "
        f"{result['import_sql_statements']} SQL statements per import"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"results written to {RESULTS.relative_to(Path(__file__).parent.parent)}")
    return 0 if imp["met"] and exp["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
