"""The README's SDK example runs as written against the real app."""

from __future__ import annotations

import re
from pathlib import Path

from litestar import Litestar
from litestar.testing import TestClient

README = Path(__file__).parents[2] / "README.md"


def sdk_examples() -> list[str]:
    text = README.read_text()
    section = text.split("## Python SDK", 1)[1]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def test_the_sync_example_runs(sync_app: TestClient[Litestar]) -> None:
    example = sdk_examples()[0]
    target = 'AgentsClient("http://127.0.0.1:8000")'
    assert target in example
    # Same code, pointed at the app under test instead of a server on port 8000.
    runnable = example.replace(target, "AgentsClient(BASE_URL, http_client=HTTP)")
    namespace = {"BASE_URL": str(sync_app.base_url), "HTTP": sync_app, "print": lambda *a: None}
    exec(compile(runnable, str(README), "exec"), namespace)
    client = namespace["client"]
    assert client.agents.list(q="Triage Agent").total == 2  # the agent and its copy


def test_the_async_example_compiles() -> None:
    examples = sdk_examples()
    assert len(examples) == 2
    compile(examples[1], str(README), "exec")
