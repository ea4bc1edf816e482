# ruff: noqa: E402  (imports follow the sys.path fix below)
"""Export of an organization of 10,000 agents from a real server: time and the server's memory.

    uv run python benchmarks/export.py [--agents 10000] [--rounds 3] [--concurrent 10]

Creates a scratch database on ``AGENTS_BENCH_POSTGRES_URL`` (default: postgres on
127.0.0.1:5432), migrates it, starts ``python -m agents_api.serve`` on it (one process, uvicorn),
signs up an organization and imports the agents (each handing off to two others, by name). Then,
for each round, it streams ``GET /api/v1/agents/export`` while a thread samples the server's
resident memory (``VmRSS`` in ``/proc/<pid>/status``) every 2 ms: the growth is the peak during
the export minus the resident size just before it. A first round warms up and is shown apart.
A last measurement runs ``--concurrent`` exports at once. Writes
``benchmarks/results/export.json``; the database is dropped at the end.

Target: growth at most 20 MiB, whatever the organization's size.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import platform
import secrets
import socket
import statistics
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from agents_core.db import migrations
from agents_core.db.database import Database

ADMIN_URL = os.environ.get(
    "AGENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
RESULTS = Path(__file__).parent / "results" / "export.json"
GROWTH_TARGET_MIB = 20.0
INSTRUCTIONS = (
    "You are {name}, a voice agent for a software company. Greet the caller briefly, find out "
    "what they need with at most two questions, and help in short spoken sentences. When the "
    "request belongs to a colleague, say who you are handing over to and why, then hand off."
)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class PeakRss:
    """The highest resident size of ``pid`` while the block runs (sampled every 2 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.before = rss_kib(pid)
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            time.sleep(0.002)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.before) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def batch(start: int, count: int, total: int) -> list[dict[str, Any]]:
    items = []
    for n in range(start, start + count):
        name = f"Agent {n:05}"
        targets = sorted(
            {f"Agent {(n - 1) % total:05}", f"Agent {(n * 7 + 3) % total:05}"} - {name}
        )
        items.append(
            {
                "name": name,
                "instructions": INSTRUCTIONS.format(name=name),
                "tools": ["lookup_order", "create_ticket"],
                "handoff_targets": targets,
            }
        )
    return items


def start_server(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def until_up(client: httpx.AsyncClient) -> None:
    for _ in range(600):
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("the server did not start")


async def export_once(client: httpx.AsyncClient, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    size = 0
    chunks = []
    async with client.stream("GET", "/api/v1/agents/export", headers=headers) as response:
        assert response.status_code == 200, await response.aread()
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            chunks.append(chunk)
    seconds = time.perf_counter() - started
    count = len(json.loads(b"".join(chunks)))
    return seconds, count


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"agents_bench_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    database = Database(url)
    await migrations.upgrade(database)
    await database.close()
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AGENTS_")},
        "AGENTS_DATABASE_URL": url,
        "AGENTS_SECRET_KEY": secrets.token_urlsafe(48),
        "AGENTS_MIGRATE_ON_START": "false",
        "AGENTS_METRICS": "false",
        "AGENTS_AUTH_RATE_LIMIT": "0",
        "AGENTS_ENV": "production",
    }
    command = [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"]
    server = start_server(command, env)
    try:
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=300) as client:
            await until_up(client)
            signed = await client.post(
                "/api/v1/auth/signup",
                json={
                    "organization_name": "Export benchmark",
                    "email": "bench@example.com",
                    "password": "correct horse battery",
                },
            )
            headers = {"Authorization": f"Bearer {signed.json()['access_token']}"}
            step = 1000
            for start in range(0, args.agents, step):
                count = min(step, args.agents - start)
                # Targets outside the batch exist already (earlier batches) or are created by
                # a later one: import resolves names against the batch and the organization,
                # so the first batches hand off within themselves only.
                items = batch(start, count, args.agents)
                known = {f"Agent {n:05}" for n in range(start + count)}
                for item in items:
                    item["handoff_targets"] = [t for t in item["handoff_targets"] if t in known]
                imported = await client.post(
                    "/api/v1/agents/import", json={"agents": items}, headers=headers
                )
                assert imported.status_code == 200, imported.text[:500]

            # A fresh server for the exports: the memory the imports used and freed would
            # otherwise hide what an export takes.
            server.terminate()
            server.wait(timeout=60)
            server = start_server(command, env)
            await until_up(client)
            await client.get("/api/v1/auth/me", headers=headers)  # pools and caches up
            rounds = []
            for index in range(args.rounds + 1):
                with PeakRss(server.pid) as rss:
                    seconds, exported = await export_once(client, headers)
                assert exported == args.agents, exported
                rounds.append(
                    {
                        "seconds": seconds,
                        "growth_mib": rss.growth_mib,
                        "rss_before_mib": rss.before / 1024,
                    }
                )
                label = "warm-up" if index == 0 else f"round {index}"
                print(
                    f"{label}: {seconds:.2f} s, RSS {rss.before / 1024:.1f} MiB "
                    f"+{rss.growth_mib:.1f} MiB at peak"
                )
            with PeakRss(server.pid) as rss:
                started = time.perf_counter()
                results = await asyncio.gather(
                    *(export_once(client, headers) for _ in range(args.concurrent))
                )
                concurrent_seconds = time.perf_counter() - started
            assert all(count == args.agents for _, count in results)
            print(
                f"{args.concurrent} at once: {concurrent_seconds:.2f} s, "
                f"+{rss.growth_mib:.1f} MiB at peak"
            )
    finally:
        server.terminate()
        server.wait(timeout=60)
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    measured = rounds[1:]
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        "agents": args.agents,
        "warm_up": rounds[0],
        "rounds": measured,
        "median_seconds": statistics.median(r["seconds"] for r in measured),
        "max_growth_mib": max(r["growth_mib"] for r in measured),
        "concurrent": {
            "exports": args.concurrent,
            "seconds": concurrent_seconds,
            "growth_mib": rss.growth_mib,
        },
        "target_growth_mib": GROWTH_TARGET_MIB,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrent", type=int, default=10)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    verdict = "within" if result["max_growth_mib"] <= GROWTH_TARGET_MIB else "OVER"
    print(
        f"export of {args.agents} agents: median {result['median_seconds']:.2f} s, "
        f"peak RSS growth {result['max_growth_mib']:.1f} MiB ({verdict} the "
        f"{GROWTH_TARGET_MIB:.0f} MiB target); written to {RESULTS}"
    )


if __name__ == "__main__":
    main()
