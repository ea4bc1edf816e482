"""The `agents` command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from agents_api.app import create_app
from agents_core.db.database import Database
from agents_core.db.migrations import head_revision
from tests.conftest import make_settings
from tests.live_server import AGENTS, free_port, start, stop

PROJECT_VARIABLES = ("AGENTS_VAR_DIR", "AGENTS_DATABASE_URL", "AGENTS_SECRET_KEY", "AGENTS_ENV")


def agents(
    *args: str, env: dict[str, str], stdin: str = "", cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``agents ARGS`` with this environment (the project's own variables only from ``env``)."""
    inherited = {k: v for k, v in os.environ.items() if k not in PROJECT_VARIABLES}
    return subprocess.run(
        [*AGENTS, *args],
        env={**inherited, **env},
        cwd=cwd,
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
    downgraded = agents("database", "downgrade", "base", "--yes", env=env)
    assert downgraded.returncode == 0, downgraded.stderr
    assert downgraded.stdout == "Database downgraded: now at (empty).\n"
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
    process = start(
        [*AGENTS, "run", "--port", str(port), "--no-access-log", *args],
        port=port,
        env={
            "AGENTS_VAR_DIR": str(tmp_path),
            "AGENTS_SECRET_KEY": "k" * 40,
            "PYTHONPATH": python_path,
            **(env or {}),
        },
    )
    return process, f"http://127.0.0.1:{port}", reports


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
    # by the command line
    assert f"Migrated the database from (empty) to {head_revision()}." in output
    # The server says where it listens and which database it uses.
    assert f"serving {base} (docs at {base}/schema), database sqlite:///{tmp_path}/agents.db" in (
        output
    )

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
    assert output.count("Migrated the database") == 1
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


# -- the command line's own surface --------------------------------------------------------------

PROJECT_COMMANDS = ["run", "database", "seed", "create-admin", "routes", "schema"]


def _listed_commands(help_text: str) -> list[str]:
    section = help_text.split("Commands:", 1)[1]
    return [line.split()[0] for line in section.splitlines() if line.startswith("  ")]


def test_help_lists_the_projects_commands_and_touches_nothing(tmp_path: Path) -> None:
    result = agents("--help", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert _listed_commands(result.stdout) == PROJECT_COMMANDS
    # Litestar's generic CLI is gone: no app discovery, no unrelated commands.
    for foreign in ("--app", "--app-dir", "sessions", "Litestar"):
        assert foreign not in result.stdout
    assert _listed_commands(agents("database", "--help", env={}, cwd=tmp_path).stdout) == [
        "upgrade",
        "downgrade",
        "current",
    ]
    # A command that serves nothing writes nothing: no ./var, no development secret.
    assert agents("--version", env={}, cwd=tmp_path).returncode == 0
    assert agents("routes", env={}, cwd=tmp_path).returncode == 0
    assert list(tmp_path.iterdir()) == []


def test_version_is_the_projects_one_version(tmp_path: Path) -> None:
    result = agents("--version", env={}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    project_version = version("agents-api")
    assert result.stdout == f"agents {project_version}\n"
    assert version("agents-core") == version("agents-client") == project_version
    assert agents("-V", env={}, cwd=tmp_path).stdout == result.stdout


def test_routes_and_schema_describe_the_api(tmp_path: Path) -> None:
    routes = agents("routes", env={}, cwd=tmp_path)
    assert routes.returncode == 0, routes.stderr
    lines = {tuple(line.split()[:3]) for line in routes.stdout.splitlines()}
    assert ("GET", "/api/v1/agents", "listAgents") in lines
    assert (
        "POST",
        "/api/v1/agents/{agent_id}/versions/{version}/restore",
        "restoreAgentVersion",
    ) in (lines)
    output = tmp_path / "openapi.json"
    schema = agents("schema", "--output", str(output), env={}, cwd=tmp_path)
    assert schema.returncode == 0, schema.stderr
    document = json.loads(output.read_text())
    assert document["openapi"].startswith("3.1")
    assert document["info"]["version"] == version("agents-api")
    assert document["paths"]["/api/v1/agents"]["get"]["operationId"] == "listAgents"
    assert json.loads(agents("schema", env={}, cwd=tmp_path).stdout) == document


def test_downgrade_needs_a_revision_and_a_confirmation(tmp_path: Path) -> None:
    env = {"AGENTS_VAR_DIR": str(tmp_path)}
    assert agents("database", "upgrade", env=env).returncode == 0
    head = agents("database", "current", env=env).stdout
    assert "up to date" in head

    missing = agents("database", "downgrade", env=env)
    assert missing.returncode == 2
    assert "Missing argument 'REVISION'" in missing.stderr

    refused = agents("database", "downgrade", "base", env=env, stdin="n\n")
    assert refused.returncode == 1
    assert f"Downgrade sqlite:///{tmp_path}/agents.db to base?" in refused.stdout
    no_answer = agents("database", "downgrade", "base", env=env, stdin="")
    assert no_answer.returncode == 1
    assert agents("database", "current", env=env).stdout == head  # nothing was dropped

    confirmed = agents("database", "downgrade", "base", env=env, stdin="y\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert confirmed.stdout.endswith("Database downgraded: now at (empty).\n")
    assert agents("database", "current", env=env).stdout.startswith("(empty)")


def test_commands_in_a_subfolder_use_the_projects_database(tmp_path: Path) -> None:
    project = tmp_path / "project"
    subfolder = project / "packages" / "somewhere"
    subfolder.mkdir(parents=True)
    created = agents("database", "upgrade", env={}, cwd=project)
    assert created.returncode == 0, created.stderr
    database = project / "var" / "agents.db"
    # A new database is never created silently: the command says where.
    assert created.stderr.startswith(f"Creating a new SQLite database at {database} ")
    assert "AGENTS_DATABASE_URL is not set" in created.stderr

    current = agents("database", "current", env={}, cwd=subfolder)
    assert current.returncode == 0, current.stderr
    assert "up to date" in current.stdout  # the project's database, migrated above
    assert "Creating" not in current.stderr
    assert not (subfolder / "var").exists()
    assert sorted(p.name for p in (project / "var").iterdir() if p.suffix == ".db") == ["agents.db"]


def test_only_serving_creates_the_development_secret(tmp_path: Path) -> None:
    env = {"AGENTS_VAR_DIR": str(tmp_path)}
    assert agents("database", "upgrade", env=env).returncode == 0
    assert agents("seed", env=env).returncode == 0
    assert agents("schema", env=env).returncode == 0
    assert not (tmp_path / "secret_key").exists()

    port = free_port()
    process = start(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
        port=port,
        env=env,
    )
    try:
        assert (tmp_path / "secret_key").stat().st_size >= 32
    finally:
        stop(process)
    assert process.returncode == 0


async def test_the_start_banner_hides_the_database_password(pg_url: str) -> None:
    # The local server trusts 127.0.0.1: any password is accepted, and none may be shown.
    with_password = pg_url.replace("://postgres@", "://postgres:hunter2-secret@", 1)
    assert "hunter2-secret" in with_password
    port = free_port()
    process = start(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
        port=port,
        env={
            "AGENTS_DATABASE_URL": with_password,
            "AGENTS_SECRET_KEY": "k" * 40,
            "AGENTS_MIGRATE_ON_START": "false",
        },
    )
    output = stop(process)
    assert "hunter2" not in output
    shown = with_password.replace("hunter2-secret", "***")
    assert f"serving http://127.0.0.1:{port} (docs at http://127.0.0.1:{port}/schema), " in output
    assert f"database {shown}" in output
