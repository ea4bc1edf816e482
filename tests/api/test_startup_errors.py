"""A database that cannot be used stops every command with one line, exit status 2.

Each case is real: a port with nothing listening, a database and a role that do not exist on
the test server, and a wrong password on a scratch PostgreSQL cluster of this test's own (the
shared server trusts 127.0.0.1, so it accepts any password; its configuration is not touched).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from agents_core.db.startup import explain
from tests.conftest import ADMIN_URL
from tests.live_server import AGENTS, free_port

SERVER = make_url(ADMIN_URL)
HOST, PORT = SERVER.host or "127.0.0.1", SERVER.port or 5432


def commands(port: int) -> dict[str, list[str]]:
    """Every command that connects to the database before it does anything else."""
    return {
        "agents run": [*AGENTS, "run", "--port", str(port)],
        "python -m agents_api.serve": [
            sys.executable,
            "-m",
            "agents_api.serve",
            "--port",
            str(port),
        ],
        "agents database upgrade": [*AGENTS, "database", "upgrade"],
        "agents database current": [*AGENTS, "database", "current"],
        "agents seed": [*AGENTS, "seed"],
        "agents create-admin": [
            *AGENTS,
            "create-admin",
            "--organization",
            "O",
            "--email",
            "a@b.co",
        ],
    }


def assert_one_line_everywhere(url: str, line: str, tmp_path: Path) -> None:
    """Every command, given ``url``, prints exactly ``line`` on stderr and exits with 2."""
    password = make_url(url).password
    env = {
        **os.environ,
        "AGENTS_DATABASE_URL": url,
        "AGENTS_SECRET_KEY": "k" * 40,
        "AGENTS_ADMIN_PASSWORD": "a long password",
        "AGENTS_VAR_DIR": str(tmp_path),
    }
    for name, argv in commands(free_port()).items():
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert result.stderr.splitlines() == [line], name
        assert result.stdout == "", name
        if password:
            assert password not in result.stderr, name


def test_nothing_listening(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://postgres@{HOST}:{port}/agents"
    assert_one_line_everywhere(
        url,
        f"Cannot connect to the database: nothing accepts connections at {HOST}:{port} "
        f"(connection refused; is PostgreSQL running there?). Check AGENTS_DATABASE_URL={url}",
        tmp_path,
    )


def test_missing_database(tmp_path: Path) -> None:
    name = f"agents_missing_{secrets.token_hex(4)}"
    url = SERVER.set(database=name).render_as_string(hide_password=False)
    user = SERVER.username
    assert_one_line_everywhere(
        url,
        f'Database "{name}" does not exist on the PostgreSQL server at {HOST}:{PORT}: create it '
        f"with `createdb -h {HOST} -p {PORT} -U {user} {name}`, or fix AGENTS_DATABASE_URL={url}",
        tmp_path,
    )


def test_missing_role(tmp_path: Path) -> None:
    role = f"ghost_{secrets.token_hex(4)}"
    url = SERVER.set(username=role, password="its-password").render_as_string(hide_password=False)
    shown = url.replace("its-password", "***")
    assert_one_line_everywhere(
        url,
        f'Role "{role}" does not exist on the PostgreSQL server at {HOST}:{PORT}: create it '
        f"(e.g. `createuser -h {HOST} -p {PORT} --pwprompt {role}` as a superuser), or fix "
        f"AGENTS_DATABASE_URL={shown}",
        tmp_path,
    )


def test_a_sqlite_file_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.touch()
    path = blocker / "agents.db"  # its folder would have to be a file's name
    env = {
        **os.environ,
        "AGENTS_DATABASE_URL": f"sqlite:///{path}",
        "AGENTS_SECRET_KEY": "k" * 40,
        "AGENTS_ADMIN_PASSWORD": "a long password",
    }
    for name, argv in commands(free_port()).items():
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, (name, result.stderr)
        notice, error = result.stderr.splitlines()
        # The server logs the notice (in the configured log format); the commands print it.
        assert notice.endswith(
            f"Creating a new SQLite database at {path} (AGENTS_DATABASE_URL names it)."
        ), name
        assert error == (
            f"Cannot create the SQLite database {path}: File exists ({blocker}). "
            f"Check AGENTS_DATABASE_URL=sqlite:///{path}"
        ), name


# -- a wrong password, on a scratch cluster that asks for passwords ------------------------------

SUPERUSER_PASSWORD = "scratch superuser password"


def _postgres_bin() -> Path | None:
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = Path(subprocess.check_output([pg_config, "--bindir"], text=True).strip())
        if (bindir / "initdb").exists():
            return bindir
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def password_cluster() -> Iterator[int]:
    """A PostgreSQL cluster on a free port that checks passwords (scram-sha-256); its port."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(
            "needs PostgreSQL's initdb and pg_ctl (Debian: postgresql) for a scratch cluster"
        )
    as_owner: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="agents-scratch-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: the cluster belongs to the postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.skip("running as root without runuser: cannot start a scratch cluster")
        as_owner = [runuser, "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
    password_file = folder / "password"
    password_file.write_text(SUPERUSER_PASSWORD)
    if as_owner:
        shutil.chown(password_file, "postgres")
    data, port = folder / "data", free_port()
    run = [*as_owner, str(bindir / "pg_ctl"), "-D", str(data)]
    try:
        subprocess.run(
            [
                *as_owner,
                str(bindir / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={password_file}",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            [*run, "-l", str(folder / "log"), "-o", options, "-w", "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.fail(f"scratch cluster: {exc.stderr.decode(errors='replace')}")

    async def create_role() -> None:
        conn = await asyncpg.connect(
            host="127.0.0.1", port=port, user="postgres", password=SUPERUSER_PASSWORD
        )
        try:
            await conn.execute("CREATE ROLE app LOGIN PASSWORD 'the right password'")
        finally:
            await conn.close()

    try:
        asyncio.run(create_role())
        yield port
    finally:
        subprocess.run([*run, "-m", "immediate", "stop"], capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


def test_wrong_password(password_cluster: int, tmp_path: Path) -> None:
    port = password_cluster
    url = f"postgresql://app:a-wrong-password@127.0.0.1:{port}/postgres"
    assert_one_line_everywhere(
        url,
        f'The PostgreSQL server at 127.0.0.1:{port} refused the password of role "app": check '
        f"the password in AGENTS_DATABASE_URL=postgresql://app:***@127.0.0.1:{port}/postgres",
        tmp_path,
    )

    # The right password gets through the same check (the cluster really checks passwords).
    right = f"postgresql://app:the right password@127.0.0.1:{port}/postgres"
    result = subprocess.run(
        [*AGENTS, "database", "current"],
        env={**os.environ, "AGENTS_DATABASE_URL": right, "AGENTS_VAR_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("(empty)")


# -- the translation itself, for failures a test cannot cause without a network ----------------


def test_an_unknown_host_and_a_timeout_are_one_line_each() -> None:
    url = "postgresql://app:pw@db.internal.example:6543/agents"
    unknown = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    assert explain(unknown, url, setting="AGENTS_DATABASE_URL") == (
        'Cannot connect to the database: unknown host "db.internal.example". Check '
        "AGENTS_DATABASE_URL=postgresql://app:***@db.internal.example:6543/agents"
    )
    assert explain(TimeoutError(), url, setting="AGENTS_DATABASE_URL", timeout=10) == (
        "Cannot connect to the database: db.internal.example:6543 did not answer within 10 s. "
        "Check AGENTS_DATABASE_URL=postgresql://app:***@db.internal.example:6543/agents"
    )


def test_the_cause_is_found_along_the_chain_and_other_errors_are_left_alone() -> None:
    url = "postgresql://app@127.0.0.1:1/agents"
    try:
        try:
            raise ConnectionRefusedError(111, "Connect call failed")
        except ConnectionRefusedError as refused:
            raise RuntimeError("the pool could not start") from refused
    except RuntimeError as wrapped:
        line = explain(wrapped, url, setting="AGENTS_DATABASE_URL")
    assert line is not None
    assert line.startswith("Cannot connect to the database: nothing accepts connections at ")
    assert explain(ValueError("a bug"), url, setting="AGENTS_DATABASE_URL") is None
