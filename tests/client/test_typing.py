"""mypy --strict accepts a program that uses every SDK method, and rejects a wrong one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def mypy(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *map(str, paths)],
        capture_output=True,
        text=True,
        cwd=HERE.parent.parent,
    )


def test_typed_usage_passes_mypy_strict() -> None:
    result = mypy(HERE / "typed_usage.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_catches_misuse(tmp_path: Path) -> None:
    wrong = tmp_path / "wrong_usage.py"
    wrong.write_text(
        "from agents_client import AgentPublic, AgentsClient, AsyncAgentsClient\n"
        "def f(client: AgentsClient, aclient: AsyncAgentsClient) -> None:\n"
        "    client.agents.get(42)\n"
        "    client.agents.update('id', {'name': 'x'})\n"
        "    agent: AgentPublic = aclient.agents.get('id')\n"
        "    client.agents.delete('id', True)\n"
    )
    result = mypy(wrong)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6"], result.stdout
