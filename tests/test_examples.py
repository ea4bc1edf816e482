"""examples/voice_worker.py, run as a user would: after `agents seed`, or too early."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from agents_api.app import create_app
from agents_core.db.database import Database
from tests.conftest import create_scratch_database, drop_scratch_database, make_settings
from tests.live_server import AGENTS

ROOT = Path(__file__).parents[1]
WORKER = ROOT / "examples" / "voice_worker.py"


def run(*argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AGENTS_")}
    return subprocess.run(
        list(argv),
        env={**inherited, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_a_database_it_says_what_to_do(tmp_path: Path) -> None:
    env = {"AGENTS_VAR_DIR": str(tmp_path)}
    missing = run(sys.executable, str(WORKER), "--once", env=env)
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        f"No database at {tmp_path}/agents.db: run `uv run agents seed` first, or set "
        "AGENTS_DATABASE_URL (or AGENTS_VAR_DIR) to the API's database."
    ]
    assert not (tmp_path / "agents.db").exists()  # it did not create an empty one

    (tmp_path / "agents.db").touch()  # a database file that was never migrated
    unmigrated = run(sys.executable, str(WORKER), "--once", env=env)
    assert unmigrated.returncode == 1
    assert unmigrated.stderr.splitlines() == [
        "The database has no tables yet: run `agents database upgrade` (or `agents seed`) "
        f"first. Check AGENTS_DATABASE_URL=sqlite:///{tmp_path}/agents.db"
    ]


async def test_an_unmigrated_postgresql_database_is_one_line() -> None:
    url = await create_scratch_database("agents_unmigrated")
    try:
        result = run(sys.executable, str(WORKER), "--once", env={"AGENTS_DATABASE_URL": url})
    finally:
        await drop_scratch_database(url)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "The database has no tables yet: run `agents database upgrade` (or `agents seed`) "
        f"first. Check AGENTS_DATABASE_URL={url}"
    ]


async def test_it_shows_the_seeded_organizations_triage_agent(tmp_path: Path) -> None:
    env = {"AGENTS_VAR_DIR": str(tmp_path), "AGENTS_SECRET_KEY": "k" * 40}
    assert run(*AGENTS, "database", "upgrade", env=env).returncode == 0

    # Another organization's "Triage Agent", older than the seeded one.
    url = f"sqlite:///{tmp_path}/agents.db"
    database = Database(url)
    try:
        app = create_app(make_settings(url), database=database)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            signup = await client.post(
                "/api/v1/auth/signup",
                json={
                    "organization_name": "Someone Else",
                    "email": "else@example.com",
                    "password": "a long password",
                },
            )
            token = signup.json()["access_token"]
            created = await client.post(
                "/api/v1/agents",
                json={
                    "name": "Triage Agent",
                    "instructions": "Another organization's agent.",
                    "model": "someone-elses-model",
                },
                headers={"Authorization": f"Bearer {token}"},
            )
            assert created.status_code == 201, created.text
    finally:
        await database.close()

    seeded = run(*AGENTS, "seed", env=env)
    assert seeded.returncode == 0, seeded.stderr
    result = run(sys.executable, str(WORKER), "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Entry agent 'Triage Agent' (v1) in release 1, 2 agent(s):")
    assert "handoff tool transfer_to_coding_expert() -> Coding Expert" in result.stdout
    assert "someone-elses-model" not in result.stdout
