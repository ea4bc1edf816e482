"""The SDK installs without the database stack."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import requires


def test_importing_the_sdk_does_not_import_sqlalchemy() -> None:
    code = (
        "import sys, agents_client, agents_client.client, agents_client.resources\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'advanced_alchemy', 'asyncpg', 'aiosqlite', 'alembic', 'litestar'})\n"
        "assert not heavy, heavy\n"
        "assert 'msgspec' in sys.modules and 'httpx' in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_sdk_depends_on_agents_core_without_the_db_extra() -> None:
    dependencies = requires("agents-client") or []
    core = [d for d in dependencies if d.replace("_", "-").startswith("agents-core")]
    assert core == ["agents-core"]
    assert any(d.startswith("httpx") for d in dependencies)
    assert not any("sqlalchemy" in d.lower() for d in dependencies)
