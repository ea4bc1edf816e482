"""The `agents` command line, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from agents_api.app import create_app
from agents_core.db.database import Database
from tests.conftest import make_settings


def agents(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from agents_api.cli import main; main()", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_bad_configuration_fails_with_a_clear_message(tmp_path: Path) -> None:
    result = agents(
        "database",
        "current",
        env={"AGENTS_VAR_DIR": str(tmp_path), "AGENTS_ACCESS_TOKEN_TTL": "forever"},
    )
    assert result.returncode == 2
    assert "AGENTS_ACCESS_TOKEN_TTL" in result.stderr
    assert "Traceback" not in result.stderr


async def test_database_commands_and_create_admin(tmp_path: Path) -> None:
    env = {"AGENTS_VAR_DIR": str(tmp_path), "AGENTS_SECRET_KEY": "k" * 40}
    current = agents("database", "current", env=env)
    assert current.returncode == 0, current.stderr
    assert "(empty)" in current.stdout
    upgraded = agents("database", "upgrade", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "up to date" in agents("database", "current", env=env).stdout
    downgraded = agents("database", "downgrade", "base", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "(empty)" in agents("database", "current", env=env).stdout

    created = agents(
        "create-admin",
        "--organization",
        "Ops",
        "--email",
        "ops@example.com",
        env={**env, "AGENTS_ADMIN_PASSWORD": "a long password"},
    )
    assert created.returncode == 0, created.stderr
    assert "ops@example.com" in created.stdout
    again = agents(
        "create-admin",
        "--organization",
        "Ops",
        "--email",
        "OPS@example.com",
        env={**env, "AGENTS_ADMIN_PASSWORD": "a long password"},
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr

    # The admin can log in to a server on that database.
    database = Database(f"sqlite:///{tmp_path}/agents.db")
    app = create_app(make_settings(f"sqlite:///{tmp_path}/agents.db"), database=database)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            login = await client.post(
                "/api/v1/auth/login",
                json={"email": "ops@example.com", "password": "a long password"},
            )
            assert login.status_code == 200
            me = await client.get(
                "/api/v1/auth/me",
                headers={"Authorization": f"Bearer {login.json()['access_token']}"},
            )
            assert me.json()["role"] == "admin"
    finally:
        await database.close()


def test_create_admin_rejects_bad_input(tmp_path: Path) -> None:
    result = agents(
        "create-admin",
        "--organization",
        "Ops",
        "--email",
        "nope",
        env={"AGENTS_VAR_DIR": str(tmp_path), "AGENTS_ADMIN_PASSWORD": "a long password"},
    )
    assert result.returncode != 0
    assert "email" in result.stderr


# -- agents run ---------------------------------------------------------------------------------

# Loaded by every Python process started with this folder on PYTHONPATH: at exit, it writes the
# process's argv and the modules it imported, so a test can see inside the server it started.
MODULE_REPORT = """
import atexit, json, os, sys

def _report():
    with open(os.path.join({folder!r}, f"modules-{{os.getpid()}}.json"), "w") as f:
        json.dump({{"argv": sys.argv, "modules": sorted(sys.modules)}}, f)

atexit.register(_report)
"""

SERVER_SIDE_ONLY = ("alembic", "mako", "pygments", "litestar.cli", "agents_core.db.migrations")
"""What the command line needs (migrations, Litestar's CLI) and a server must not import."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_agents_run(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """``agents run`` on a free port and a fresh SQLite database; returns (process, base URL,
    the folder where each of its Python processes reports its modules at exit)."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "sitecustomize.py").write_text(MODULE_REPORT.format(folder=str(reports)))
    port = free_port()
    python_path = os.pathsep.join(p for p in (str(reports), os.environ.get("PYTHONPATH")) if p)
    process = subprocess.Popen(
        [
            *(sys.executable, "-c", "from agents_api.cli import main; main()", "run"),
            *("--port", str(port), "--no-access-log", *args),
        ],
        env={
            **os.environ,
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_SECRET_KEY": "k" * 40,
            "PYTHONPATH": python_path,
            **(env or {}),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise AssertionError(f"agents run exited with {process.returncode}:\n{output}")
        try:
            if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                return process, base, reports
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise AssertionError("agents run did not become ready in 90 s")


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    return output.decode()


def module_reports(reports: Path) -> list[dict[str, list[str]]]:
    return [json.loads(path.read_text()) for path in sorted(reports.glob("modules-*.json"))]


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; exec keeps the pid on POSIX")
def test_run_migrates_then_serves_from_a_lean_process(tmp_path: Path) -> None:
    process, base, reports = start_agents_run(tmp_path)
    try:
        # The command line replaced itself with the server: same process, new program.
        cmdline = Path(f"/proc/{process.pid}/cmdline").read_bytes().split(b"\0")
        assert cmdline[1:3] == [b"-m", b"agents_api.serve"]
        # The migrations ran before it served: the schema is there.
        signup = httpx.post(
            f"{base}/api/v1/auth/signup",
            json={
                "organization_name": "Lean",
                "email": "lean@example.com",
                "password": "a long password",
            },
            timeout=30,
        )
        assert signup.status_code == 201, signup.text
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert "Running upgrade  -> 0001" in output  # alembic's log, from the command line process

    # Only the server exits normally (exec runs no atexit handlers): one report, the server's.
    [report] = module_reports(reports)
    assert report["argv"][0].endswith(os.path.join("agents_api", "serve.py"))
    modules = report["modules"]
    assert "agents_api.app" in modules
    assert "uvicorn" in modules
    assert [m for m in modules if m.split(".")[0] in SERVER_SIDE_ONLY] == []
    assert [m for m in modules if m.startswith(SERVER_SIDE_ONLY)] == []


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_run_with_several_workers(tmp_path: Path) -> None:
    process, base, _ = start_agents_run(tmp_path, "--workers", "2")
    try:
        assert httpx.get(f"{base}/health", timeout=5).json() == {"status": "ok"}
        # uvicorn's workers, children of the server. They are told not to migrate again (which
        # would import alembic in each); the command line has done it. (uvicorn ends workers
        # with SIGTERM, so they run no atexit handlers to report their modules with.)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        environs = []
        for child in children:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                environs.append(Path(f"/proc/{child}/environ").read_bytes().split(b"\0"))
        assert len(environs) == 2
        assert all(b"AGENTS_MIGRATE_ON_START=false" in environ for environ in environs)
    finally:
        output = stop(process)
    assert process.returncode == 0, output
    assert output.count("Running upgrade  -> 0001") == 1
    assert output.count("Application startup complete") == 2


def test_serve_refuses_a_bad_configuration(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "agents_api.serve", "--port", str(free_port())],
        env={**os.environ, "AGENTS_VAR_DIR": str(tmp_path), "AGENTS_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Configuration error: AGENTS_SECRET_KEY is not set" in result.stderr
    assert "Traceback" not in result.stderr
