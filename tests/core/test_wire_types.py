"""The wire types stand alone: the SDK installs them without SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys

import msgspec
import pytest

from agents_core.schemas import AgentCreate, AgentUpdate, split_field_message


def test_schemas_import_without_sqlalchemy() -> None:
    code = (
        "import sys; import agents_core.schemas, agents_core.errors, agents_core.principal; "
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'advanced_alchemy', 'asyncpg', 'litestar'}]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_update_distinguishes_unset_from_null() -> None:
    update = msgspec.json.decode(b'{"voice": null}', type=AgentUpdate)
    assert update.changes() == {"voice": None}
    assert msgspec.json.decode(b"{}", type=AgentUpdate).changes() == {}


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (b'{"name": " ", "instructions": "x"}', "name"),
        (b'{"name": "a", "instructions": "x", "tools": ["a", "a"]}', "tools[1]"),
        (b'{"name": "a", "instructions": "x", "panels": ["notepad", "notepad"]}', "panels[1]"),
    ],
)
def test_post_init_errors_name_their_field(payload: bytes, field: str) -> None:
    with pytest.raises(msgspec.ValidationError) as caught:
        msgspec.json.decode(payload, type=AgentCreate)
    assert split_field_message(str(caught.value))[0] == field
