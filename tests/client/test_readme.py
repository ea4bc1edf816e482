"""The README's shell walkthrough and both SDK examples run as written, in order, twice, against
one real server process (`agents run`, as `./dev serve` starts it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live_server import AGENTS, free_port, start, stop

README = Path(__file__).parents[2] / "README.md"
DOCUMENTED = "127.0.0.1:8000"


def section(title: str) -> str:
    text = README.read_text()
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(title: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section(title), flags=re.DOTALL)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``host:port`` of one `agents run` on a fresh SQLite database, for the whole module."""
    folder = tmp_path_factory.mktemp("readme")
    port = free_port()
    process = start(
        [*AGENTS, "run", "--port", str(port), "--no-access-log"],
        port=port,
        env={"AGENTS_VAR_DIR": str(folder)},
    )
    yield f"127.0.0.1:{port}"
    stop(process)


def run(argv: list[str], *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{argv[:2]}\n{result.stdout}\n{result.stderr}"
    return result


def test_the_readme_runs_twice_on_one_server(server: str, tmp_path: Path) -> None:
    [walkthrough] = code_blocks("Walkthrough", "bash")
    sync_example, async_example = code_blocks("Python SDK", "python")
    for text in (walkthrough, sync_example, async_example):
        assert DOCUMENTED in text  # the test points the same code at its own server
    shell = walkthrough.replace(DOCUMENTED, server)
    (tmp_path / "sync_example.py").write_text(sync_example.replace(DOCUMENTED, server))
    (tmp_path / "async_example.py").write_text(async_example.replace(DOCUMENTED, server))

    organizations = set()
    for _ in range(2):
        shell_run = run(["bash", "-euo", "pipefail", "-c", shell])
        assert '"name":"Triage Agent"' in shell_run.stdout
        assert shell_run.stdout.count('{"status":"ok"}') == 2  # liveness, readiness

        sync_run = run([sys.executable, str(tmp_path / "sync_example.py")])
        out = sync_run.stdout
        assert "1 ['Triage Agent']" in out  # page.total, names: a fresh organization each run
        assert "409 agent_referenced" in out
        [key] = re.findall(r"store this, it is shown once: (agk_\S+)", out)

        async_run = run(
            [sys.executable, str(tmp_path / "async_example.py")], env={"AGENTS_API_KEY": key}
        )
        organization, *names = async_run.stdout.splitlines()[:-1]
        assert async_run.stdout.splitlines()[-1] == "agent_not_found"
        assert sorted(names) == ["Triage Agent", "Triage Agent (Copy)"]
        organizations.add(organization)
    assert len(organizations) == 2
