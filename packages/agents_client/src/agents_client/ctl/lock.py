"""``agents.lock``: for every file pulled or applied, the agent it stands for and what it was
based on.

Each entry maps a file name to the agent's id, the version the file was based on (sent as
``If-Match`` when the file's changes are applied) and a digest of each configuration member at
that version. The digests tell, without asking the server for old versions, which members a
file changed since (file against digests) and which the server changed (server against
digests): what a conflict reports, and what ``pull`` would lose.

The lock is JSON with sorted keys and one member per line, so it diffs well in git; it names
the organization it belongs to, since ids mean nothing in another one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Final
from uuid import UUID

import msgspec

from agents_client.ctl.agent_files import MEMBERS, normalized, replace_file
from agents_core.schemas import AgentExport

__all__ = ["LOCK_FILE", "Lock", "LockEntry", "LockError", "digests", "read_lock", "write_lock"]

LOCK_FILE: Final = "agents.lock"
FORMAT: Final = 1
DIGEST_CHARS: Final = 16
"""64 bits of SHA-256 per member: enough to tell a change, short enough to read."""


class LockEntry(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    id: UUID
    name: str
    version: int
    fields: dict[str, str]


class Lock(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, frozen=True):
    format: int = FORMAT
    organization_id: UUID | None = None
    agents: dict[str, LockEntry] = msgspec.field(default_factory=dict)

    def for_organization(self, organization_id: UUID) -> Mapping[str, LockEntry]:
        """The entries, when they were written for this organization; none otherwise."""
        return self.agents if self.organization_id == organization_id else {}


class LockError(Exception):
    """The lock file cannot be read."""


def _canonical(member: str, value: object) -> bytes:
    if member == "handoff_targets" and isinstance(value, list):
        # Agent names compare case-insensitively, as the API's unique index does.
        value = [str(name).lower() for name in value]
    return msgspec.json.encode(value)


def digests(config: AgentExport) -> dict[str, str]:
    """One short digest per configuration member (``config`` normalized first)."""
    values = msgspec.to_builtins(normalized(config))
    return {
        member: hashlib.sha256(_canonical(member, values[member])).hexdigest()[:DIGEST_CHARS]
        for member in MEMBERS
    }


def read_lock(directory: Path) -> Lock:
    """The directory's lock; an empty one when there is none."""
    path = directory / LOCK_FILE
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return Lock()
    try:
        lock = msgspec.json.decode(content, type=Lock)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise LockError(
            f"{path}: not a lock written by agentsctl ({exc}): restore it from git (agentsctl "
            "pull --force rewrites it, discarding changes not yet applied)"
        ) from None
    if lock.format != FORMAT:
        raise LockError(
            f"{path}: lock format {lock.format}, this agentsctl reads format {FORMAT}: "
            "use the agentsctl that wrote it"
        )
    return lock


def write_lock(directory: Path, lock: Lock) -> None:
    """Write the lock whole or not at all (a temporary file renamed over it)."""
    body = msgspec.json.format(msgspec.json.encode(lock, order="sorted"), indent=2) + b"\n"
    replace_file(directory / LOCK_FILE, body)
