# ruff: noqa: E402  (imports follow the sys.path fix below)
"""What the rate limit and the login throttle cost per login, in CPU, in process and on Redis.

    uv run python benchmarks/throttling.py [--requests 5000] [--rounds 5]

A login passes the per-address limit (one ``hit``), asks whether its email is throttled (one
``test``) and then records a failure (``hit``) or clears the count (``clear``). This runs exactly
those calls of :class:`agents_api.throttling.Throttles` for ``--requests`` logins from 50
addresses and 200 emails, half failing, and reports the process CPU time per login (median of
the rounds): with the counters in memory, and in Redis at ``AGENTS_BENCH_REDIS_URL`` (default
``redis://127.0.0.1:6379/15``; keys under a fresh prefix, removed at the end). Writes
``benchmarks/results/throttling.json``.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agents_api.settings import RateLimit, Settings
from agents_api.throttling import Throttles

REDIS_URL = os.environ.get("AGENTS_BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
RESULTS = Path(__file__).parent / "results" / "throttling.json"


def settings(redis_url: str | None) -> Settings:
    return Settings(
        database_url="sqlite:///:memory:",
        secret_key="x" * 40,
        redis_url=redis_url,
        # High enough that every call does its full work and none is refused.
        auth_rate_limit=RateLimit(1_000_000, "minute"),
        login_max_failures=1_000_000,
    )


async def one_round(throttles: Throttles, requests: int) -> float:
    started = time.process_time()
    for n in range(requests):
        assert await throttles.admit("login", f"192.0.2.{n % 50}") is None
        email = f"user{n % 200}@example.com"
        assert await throttles.login_blocked(email) is None
        if n % 2:
            await throttles.login_failed(email)
        else:
            await throttles.login_succeeded(email)
    return (time.process_time() - started) / requests * 1e6


async def measure(redis_url: str | None, requests: int, rounds: int) -> dict[str, Any]:
    throttles = Throttles(settings(redis_url))
    try:
        await one_round(throttles, min(requests, 500))  # warm-up
        per_login = [await one_round(throttles, requests) for _ in range(rounds)]
    finally:
        if redis_url is not None:
            import redis.asyncio

            client = redis.asyncio.Redis.from_url(redis_url)
            keys = [key async for key in client.scan_iter("agents*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()
        await throttles.close()
    return {"cpu_us_per_login_median": statistics.median(per_login), "rounds": per_login}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    memory = await measure(None, args.requests, args.rounds)
    print(f"in memory: {memory['cpu_us_per_login_median']:.1f} µs CPU per login")
    redis = await measure(REDIS_URL, args.requests, args.rounds)
    print(f"on Redis:  {redis['cpu_us_per_login_median']:.1f} µs CPU per login (this process)")
    return {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "requests": args.requests,
        "memory": memory,
        "redis": redis,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    result = asyncio.run(run(parser.parse_args()))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
