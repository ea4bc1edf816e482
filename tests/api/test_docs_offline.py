"""The interactive docs render in a real browser with no network but the loopback.

Headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it) loads ``/schema`` from a real
server process. Every host name resolves to nothing and every request that is not for 127.0.0.1
goes to a proxy that refuses it, so a script, style or font from a CDN cannot load: the page
renders only if the server itself serves everything it needs.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.live_server import free_port, start, stop

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="needs Chromium (`apt-get install chromium`; .ci/run installs it where it can)",
)


def render(url: str, profile: Path) -> str:
    """The DOM of ``url`` after its scripts ran, loaded with the network cut but for loopback."""
    assert CHROMIUM is not None
    refused = free_port()  # nothing listens there: the proxy refuses every request sent to it
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            f"--proxy-server=http://127.0.0.1:{refused}",
            "--proxy-bypass-list=127.0.0.1",
            # Let the page's scripts run (and its timers fire) before the DOM is dumped.
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("docs")
    port = free_port()
    process = start(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
        port=port,
        env={"AGENTS_VAR_DIR": str(folder), "AGENTS_SECRET_KEY": "k" * 40},
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)


def operations(base: str) -> list[tuple[str, str, str]]:
    """(tag, operationId, path) of every operation in the served document."""
    document: dict[str, Any] = httpx.get(f"{base}/schema/openapi.json", timeout=30).json()
    return [
        (operation["tags"][0], operation["operationId"], path)
        for path, item in document["paths"].items()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]


@pytest.mark.parametrize("page", ["/schema", "/schema/swagger"])
def test_the_docs_render_every_operation_offline(server: str, page: str, tmp_path: Path) -> None:
    dom = render(f"{server}{page}", tmp_path / "profile")
    assert 'class="swagger-ui' in dom, dom[:2000]
    expected = operations(server)
    assert len(expected) >= 20
    # Swagger UI renders each operation as a block whose id is its tag and operationId, with
    # the path shown in it.
    missing = [
        (tag, operation_id, path)
        for tag, operation_id, path in expected
        if f'id="operations-{tag}-{operation_id}"' not in dom
        or f'data-path="{html.escape(path)}"' not in dom
    ]
    assert missing == []


def test_the_browser_really_is_offline(tmp_path: Path) -> None:
    """The same browser, given a page that loads Swagger UI from a CDN, cannot run it: the
    test above would fail if the docs depended on one."""
    page = tmp_path / "cdn.html"
    page.write_text(
        "<html><body><p id='result'>not run</p>"
        "<script src='https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js'>"
        "</script><script>document.getElementById('result').textContent = "
        "typeof SwaggerUIBundle;</script></body></html>"
    )
    dom = render(page.as_uri(), tmp_path / "profile")
    assert '<p id="result">undefined</p>' in dom
