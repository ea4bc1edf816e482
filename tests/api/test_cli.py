"""The `agents` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

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
