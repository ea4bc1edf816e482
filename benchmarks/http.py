# ruff: noqa: E402  (imports follow the sys.path fix below)
"""HTTP benchmark: the real server against a raw asyncpg + msgspec baseline.

    uv run python benchmarks/http.py [--rounds 5] [--duration 5] [--connections 16]

Creates a fresh PostgreSQL database (on ``AGENTS_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432/postgres``; dropped at the end), starts the real server
(``agents run``, one worker, no access log) and the raw baseline (``raw_baseline.py``, served
the same way), creates an organization and 100 agents of varied sizes through the API (the raw
baseline gets a database of its own, filled the same way: every server's rows then see the same
number of updates), then drives three workloads with wrk (1 thread, 16 connections):

- ``get``:  ``GET /api/v1/agents/{id}`` over the 100 agents,
- ``list``: ``GET /api/v1/agents?limit=100``,
- ``put``:  ``PUT /api/v1/agents/{id}``, each request a real change (a new version; the raw
  baseline runs the same statements by hand).

With ``--before PATH`` (another checkout of this repository, set up with ``uv sync``), the app
as built there joins them, on a database of its own, so that a change is measured against the
build before it in the same run, under the same conditions (``PATH/.venv/bin/python``).

With ``--observed``, another server joins them: the app as deployed, with its request log
(one text line per request, to a file) and ``/metrics`` counting every request, so that what
observability costs is measured side by side (the plain ``app`` runs without either:
``--no-access-log`` and ``AGENTS_METRICS=false``).

The servers run alternately, several rounds; the medians are reported with the server's
CPU time per request (utime + stime from /proc/<pid>/stat over the run) and its peak RSS
(VmHWM), and every figure also as a ratio to the raw baseline. Results go to
``benchmarks/results/http.json``. Needs Linux (/proc) and wrk (``apt-get install -y wrk``).
"""

from __future__ import annotations

import os
import sys

# Run as a script, this file's folder comes first on sys.path; it holds ``http.py``, which
# would shadow the standard library's ``http`` for every module imported after this point.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]

import argparse
import asyncio
import json
import platform
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import asyncpg
import httpx

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "http.json"
BASE_URL = os.environ.get(
    "AGENTS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
AGENTS = 100

TARGETS = {
    "get": {"cpu_ms": 0.5, "rps_ratio": 0.6},
    "list": {"cpu_ms": 2.5, "rps_ratio": 0.7},
    "put": {"cpu_ms": 1.2},
    "rss_mib": 70,
}

WORDS = [
    "caller",
    "customer",
    "booking",
    "refund",
    "policy",
    "escalate",
    "politely",
    "confirm",
    "summarize",
    "identity",
    "verify",
    "appointment",
    "schedule",
    "weather",
    "account",
    "balance",
    "transfer",
    "specialist",
    "calm",
    "concise",
    "language",
    "greeting",
    "closing",
    "apologize",
    "clarify",
    "repeat",
    "spell",
    "address",
    "order",
    "tracking",
]
TOOLS = [
    "lookup_order",
    "create_ticket",
    "transfer_call",
    "send_sms",
    "check_calendar",
    "book_slot",
    "search_kb",
    "refund_payment",
]
PANELS = ["slide_presenter", "notepad", "coding_ide", "whiteboard", "document_viewer"]
MODALITIES = ["audio_only", "audio_camera", "audio_screenshare"]
VOICES = [None, "alloy", "verse", "sage", "coral"]

# wrk's Lua side: one request per call, cycling over the paths; the summary printed as JSON.
LUA = r"""
local paths = {}
local token = os.getenv("BENCH_TOKEN")
local method = os.getenv("BENCH_METHOD") or "GET"
for line in io.lines(os.getenv("BENCH_PATHS")) do paths[#paths + 1] = line end
local i = 0
local headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}

request = function()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  if method == "PUT" then
    local body = string.format('{"voice": "voice-%d-%d"}', i, math.random(1, 1000000000))
    return wrk.format("PUT", path, headers, body)
  end
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"status_errors": %d, "socket_errors": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


# -- data ----------------------------------------------------------------------------------


def instructions_text(rng: random.Random, size: int) -> str:
    words: list[str] = []
    length = 0
    while length < size:
        word = rng.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    text = " ".join(words)[:size]
    return text[0].upper() + text[1:]


def agent_bodies(rng: random.Random) -> list[dict[str, Any]]:
    """100 agents: instructions log-uniform from 200 B to 30 KB, a third with tools, a quarter
    with panels, every fifth (after the first ten) handing off to earlier agents."""
    bodies = []
    for n in range(AGENTS):
        size = int(200 * (150 ** rng.random()))  # 200 B … 30 KB
        body: dict[str, Any] = {
            "name": f"Agent {n:03d} {rng.choice(WORDS)}",
            "instructions": instructions_text(rng, size),
            "model": rng.choice(["gpt-4.1-mini", "gpt-4.1", "gpt-4o-realtime"]),
            "voice": rng.choice(VOICES),
            "modality": rng.choice(MODALITIES),
        }
        if n % 3 == 0:
            body["tools"] = rng.sample(TOOLS, rng.randint(1, 5))
        if n % 4 == 0:
            body["panels"] = rng.sample(PANELS, rng.randint(1, 3))
        bodies.append(body)
    return bodies


async def create_database() -> str:
    name = f"agents_bench_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(BASE_URL)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return BASE_URL.rsplit("/", 1)[0] + "/" + name


async def drop_database(url: str) -> None:
    conn = await asyncpg.connect(BASE_URL)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await conn.close()


async def postgres_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


async def populate(base: str) -> tuple[str, list[str]]:
    """Sign up an organization, create the agents through the API; return (token, agent ids)."""
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        response = await client.post(
            "/api/v1/auth/signup",
            json={
                "organization_name": "Benchmark Org",
                "email": "bench@example.com",
                "password": "benchmark password",
            },
        )
        response.raise_for_status()
        token = response.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids: list[str] = []
        for n, body in enumerate(agent_bodies(rng)):
            if n >= 10 and n % 5 == 0:
                body["handoff_targets"] = rng.sample(ids, rng.randint(1, 3))
            created = await client.post("/api/v1/agents", json=body, headers=headers)
            created.raise_for_status()
            ids.append(created.json()["id"])
    return token, ids


# -- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 (lives as long as the server)
        self.process = subprocess.Popen(
            argv, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            with suppress(httpx.HTTPError):
                if httpx.get(self.base + path, timeout=2).status_code < 500:
                    return
            time.sleep(0.2)
        self.log.seek(0)
        raise RuntimeError(
            f"{self.name} did not start:\n{self.log.read().decode(errors='replace')}"
        )

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICK  # utime + stime

    def _status_mib(self, key: str) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def peak_rss_mib(self) -> float:
        return self._status_mib("VmHWM")

    def rss_mib(self) -> float:
        return self._status_mib("VmRSS")

    def reset_peak_rss(self) -> None:
        """Start VmHWM afresh (Linux >= 4.0), so that the peak is the load's, not the setup's."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def run_wrk(
    server: Server,
    *,
    script: Path,
    paths_file: Path,
    method: str,
    token: str,
    duration: float,
    connections: int,
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_TOKEN": token,
        "BENCH_PATHS": str(paths_file),
        "BENCH_METHOD": method,
    }
    before = server.cpu_seconds()
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration:g}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            server.base,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    cpu = server.cpu_seconds() - before
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH "))
    stats = json.loads(line[len("BENCH ") :])
    if stats["status_errors"] or stats["socket_errors"]:
        raise RuntimeError(f"{server.name} {method}: errors in the run: {stats}")
    seconds = stats["duration_us"] / 1e6
    return {
        "requests": stats["requests"],
        "rps": stats["requests"] / seconds,
        "p50_ms": stats["p50_us"] / 1000,
        "p99_ms": stats["p99_us"] / 1000,
        "cpu_ms": cpu * 1000 / stats["requests"],
    }


# -- report ----------------------------------------------------------------------------------


def before_commit(checkout: Path) -> str:
    """The commit a ``--before`` checkout is at (its path is this machine's, not a result)."""
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def machine(pg_version: str) -> dict[str, Any]:
    model = ""
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
    }


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("rps", "p50_ms", "p99_ms", "cpu_ms")
    return {k: round(statistics.median(r[k] for r in runs), 4) for k in keys}


def summarize(rounds: dict[str, dict[str, list[dict[str, Any]]]]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for workload, by_server in rounds.items():
        app = medians(by_server["app"])
        entry: dict[str, Any] = {"app": app}
        if by_server.get("raw"):
            raw = medians(by_server["raw"])
            entry["raw"] = raw
            entry["ratio"] = {k: round(app[k] / raw[k], 3) for k in app if raw[k]}
            if by_server.get("before"):
                before = medians(by_server["before"])
                entry["before"] = before
                entry["before_ratio"] = {k: round(before[k] / raw[k], 3) for k in before if raw[k]}
        if by_server.get("observed"):
            observed = medians(by_server["observed"])
            entry["observed"] = observed
            entry["observed_vs_app"] = {
                k: round(observed[k] / app[k], 3) for k in observed if app[k]
            }
        summary[workload] = entry
    return summary


def print_table(
    summary: dict[str, Any],
    rss: dict[str, float],
    by_workload: dict[str, dict[str, float]],
    idle: dict[str, float],
) -> None:
    labels = {
        "get": "GET /api/v1/agents/{id}",
        "list": "GET /api/v1/agents?limit=100",
        "put": "PUT /api/v1/agents/{id}",
    }
    print()
    print(
        "| workload | server | req/s | p50 ms | p99 ms | CPU ms/req | req/s vs raw | CPU vs raw |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for workload, entry in summary.items():
        for server in ("app", "before", "observed", "raw"):
            if server not in entry:
                continue
            m = entry[server]
            ratio = entry.get({"app": "ratio", "before": "before_ratio"}.get(server, ""), {})
            rps_ratio = f"{ratio['rps']:.2f}x" if "rps" in ratio else "—"
            cpu_ratio = f"{ratio['cpu_ms']:.2f}x" if "cpu_ms" in ratio else "—"
            print(
                f"| {labels[workload]} | {server} | {m['rps']:.0f} | {m['p50_ms']:.2f} | "
                f"{m['p99_ms']:.2f} | {m['cpu_ms']:.3f} | {rps_ratio} | {cpu_ratio} |"
            )
    for workload, entry in summary.items():
        if "observed_vs_app" in entry:
            cost = entry["observed"]["cpu_ms"] - entry["app"]["cpu_ms"]
            print(
                f"{labels[workload]}: request log and metrics cost {cost * 1000:+.1f} µs CPU "
                f"per request ({entry['observed_vs_app']['cpu_ms']:.3f}x the app's CPU)"
            )
    print()
    print(
        "Peak RSS under load: "
        + ", ".join(f"{name} {value:.1f} MiB" for name, value in rss.items())
    )
    for server in by_workload:
        peaks = ", ".join(f"{w} {v:.1f}" for w, v in by_workload[server].items())
        print(f"  {server}: idle after set-up {idle[server]:.1f} MiB; peak per workload: {peaks}")


def check_targets(summary: dict[str, Any], rss: dict[str, float]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for workload in ("get", "list", "put"):
        target = TARGETS[workload]
        assert isinstance(target, dict)
        checks[f"{workload}_cpu"] = summary[workload]["app"]["cpu_ms"] <= target["cpu_ms"]
        if "rps_ratio" in target:
            checks[f"{workload}_rps_ratio"] = (
                summary[workload]["ratio"]["rps"] >= target["rps_ratio"]
            )
    checks["rss"] = rss["app"] <= float(TARGETS["rss_mib"])  # type: ignore[arg-type]
    return checks


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP benchmark: the API against raw asyncpg.")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--workloads", default="get,list,put", help="comma-separated: get, list, put"
    )
    parser.add_argument(
        "--before",
        type=Path,
        help="another checkout (with its .venv): its app is measured in the same run",
    )
    parser.add_argument(
        "--observed",
        action="store_true",
        help="also run the app with its request log and metrics on, alternately with the others",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu) or build it from "
            "https://github.com/wg/wrk"
        )
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]

    db_url = asyncio.run(create_database())
    before_db_url = asyncio.run(create_database()) if args.before else None
    # The raw baseline writes too (PUT): it gets a database of its own, so that every server's
    # rows see the same number of updates.
    raw_db_url = asyncio.run(create_database())
    servers: list[Server] = []
    work = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    try:
        secret = secrets.token_urlsafe(48)
        env = {
            **os.environ,
            "AGENTS_DATABASE_URL": db_url,
            "AGENTS_SECRET_KEY": secret,
            "AGENTS_ENV": "production",
            "AGENTS_VAR_DIR": str(work),
            "PYTHONUNBUFFERED": "1",
        }

        def start_app(
            name: str, *, observed: bool, python: str = sys.executable, database: str = db_url
        ) -> Server:
            port = free_port()
            argv = [python, "-c", "from agents_api.cli import main; main()", "run"]
            argv += ["--workers", "1", "--port", str(port)]
            argv.append("--access-log" if observed else "--no-access-log")
            server = Server(
                name,
                argv,
                {
                    **env,
                    "AGENTS_METRICS": "true" if observed else "false",
                    "AGENTS_DATABASE_URL": database,
                },
                port,
            )
            servers.append(server)
            server.wait_ready("/health")
            return server

        start_app("app", observed=False)
        # Started after the app has migrated the database (both serve the same one).
        observed = start_app("observed", observed=True) if args.observed else None
        if args.before is not None and before_db_url is not None:
            python = args.before.resolve() / ".venv" / "bin" / "python"
            if not python.exists():
                sys.exit(f"{python} is missing: run `uv sync` in {args.before} first")
            start_app("before", observed=False, python=str(python), database=before_db_url)
        print(f"populating {AGENTS} agents …", flush=True)
        tokens: dict[str, str] = {}
        files: dict[tuple[str, str], Path] = {}

        def populate_for(name: str, server: Server) -> None:
            token, ids = asyncio.run(populate(server.base))
            tokens[name] = token
            paths = {
                "get": [f"/api/v1/agents/{i}" for i in ids],
                "list": ["/api/v1/agents?limit=100"],
                "put": [f"/api/v1/agents/{i}" for i in ids],
            }
            for workload, lines in paths.items():
                files[name, workload] = work / f"{name}-{workload}.paths"
                files[name, workload].write_text("\n".join(lines) + "\n")

        for server in servers:
            if server.name != "observed":  # serves the app's database
                populate_for(server.name, server)
        # The raw baseline's database, migrated and filled by the app (stopped after).
        setup = start_app("raw-setup", observed=False, database=raw_db_url)
        populate_for("raw", setup)
        setup.stop()
        servers.remove(setup)
        raw = Server(
            "raw",
            [sys.executable, str(HERE / "raw_baseline.py"), "--port", str(port := free_port())],
            {**env, "AGENTS_DATABASE_URL": raw_db_url},
            port,
        )
        servers.append(raw)
        tokens["observed"] = tokens["app"]
        for workload in ("get", "list", "put"):
            files["observed", workload] = files["app", workload]
        raw.wait_ready("/api/v1/agents/")
        script = work / "bench.lua"
        script.write_text(LUA)
        methods = {"get": "GET", "list": "GET", "put": "PUT"}

        # Peak RSS of each run, kept per workload: VmHWM is reset before every run (the
        # maximum over the runs is the peak since set-up, as nothing runs in between).
        by_workload: dict[str, dict[str, float]] = {server.name: {} for server in servers}

        def one(server: Server, workload: str, duration: float) -> dict[str, Any]:
            server.reset_peak_rss()
            run = run_wrk(
                server,
                script=script,
                paths_file=files[server.name, workload],
                method=methods[workload],
                token=tokens[server.name],
                duration=duration,
                connections=args.connections,
            )
            peaks = by_workload[server.name]
            peaks[workload] = max(peaks.get(workload, 0.0), server.peak_rss_mib())
            return run

        # Set-up peaks (a sign-up hashes the password with argon2, 64 MiB) are not the load's.
        setup_rss = {server.name: server.peak_rss_mib() for server in servers}
        idle_rss = {server.name: server.rss_mib() for server in servers}
        print("warming up …", flush=True)
        for workload in workloads:
            for server in servers:
                one(server, workload, 2)

        results: dict[str, dict[str, list[dict[str, Any]]]] = {
            w: {server.name: [] for server in servers} for w in workloads
        }
        for n in range(args.rounds):
            # Each round starts with another server: none always runs first or last.
            order = servers[n % len(servers) :] + servers[: n % len(servers)]
            for workload in workloads:
                for server in order:
                    run = one(server, workload, args.duration)
                    results[workload][server.name].append(run)
                    print(
                        f"round {n + 1}/{args.rounds} {workload:4} {server.name}: "
                        f"{run['rps']:.0f} req/s, p50 {run['p50_ms']:.2f} ms, "
                        f"p99 {run['p99_ms']:.2f} ms, CPU {run['cpu_ms']:.3f} ms/req",
                        flush=True,
                    )
        rss = {n: max(peaks.values(), default=float("nan")) for n, peaks in by_workload.items()}
        summary = summarize(results)
        print_table(summary, rss, by_workload, idle_rss)
        checks = check_targets(summary, rss) if set(workloads) == {"get", "list", "put"} else {}
        for name, ok in checks.items():
            print(f"  target {name}: {'met' if ok else 'MISSED'}")
        pg = asyncio.run(postgres_version(db_url))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(
            json.dumps(
                {
                    "benchmark": "http",
                    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "machine": machine(pg),
                    "config": {
                        "server": "agents run --workers 1 --no-access-log (uvicorn), "
                        "AGENTS_METRICS=false",
                        "observed": "agents run --workers 1 --access-log, metrics on"
                        if observed is not None
                        else None,
                        "before": None if args.before is None else before_commit(args.before),
                        "load": f"wrk -t1 -c{args.connections} -d{args.duration:g}s",
                        "rounds": args.rounds,
                        "agents": AGENTS,
                    },
                    "targets": TARGETS,
                    "summary": summary,
                    "peak_rss_mib": {k: round(v, 1) for k, v in rss.items()},
                    "peak_rss_mib_by_workload": {
                        name: {w: round(v, 1) for w, v in peaks.items()}
                        for name, peaks in by_workload.items()
                    },
                    "idle_rss_mib_after_setup": {k: round(v, 1) for k, v in idle_rss.items()},
                    "peak_rss_mib_including_setup": {
                        k: round(max(v, rss[k]), 1) for k, v in setup_rss.items()
                    },
                    "targets_met": checks,
                    "runs": results,
                },
                indent=2,
            )
            + "\n"
        )
        print(f"\nresults written to {args.output}")
    finally:
        for server in servers:
            server.stop()
        asyncio.run(drop_database(db_url))
        for url in (before_db_url, raw_db_url):
            if url is not None:
                asyncio.run(drop_database(url))
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
