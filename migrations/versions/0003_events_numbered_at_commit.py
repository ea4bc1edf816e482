"""events numbered at commit (PostgreSQL): no round trip of ours inside the ordering lock

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Each organization's events are numbered 1, 2, 3 … in commit order, under a transaction-level
lock on the organization. A writer took that lock with a statement of its own, then inserted
the event, then committed: every writer of the organization waited, besides the commit itself,
for two round trips to the writer that held the lock — and for that process to get around to
sending them, which on a busy server is most of the wait.

Now the insert leaves ``position`` null and a deferred constraint trigger numbers the event when
the transaction commits: it takes the lock there (the lock is then held only for the commit
itself), and reads the organization's last number in a snapshot taken after the lock was
granted (a PL/pgSQL query under READ COMMITTED takes a fresh one). The first call numbers all
of the transaction's events of the organization at once (an import records thousands). Positions
stay the commit order without gaps, and a writer no longer waits on another's open transaction.
``agent_event_notice(notice)`` queues the event's notice (delivered at commit) from the insert
itself. The lock (two int4 keys: ``0x61676576`` and the hash of the organization id) and the
channel (``agent_events``) are those of ``agents_core.events.repository``.

SQLite has one writer at a time, in commit order, and no notices: there the insert numbers the
event itself. ``position`` is nullable on both, as it is null until commit on PostgreSQL.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOTICE = """
CREATE FUNCTION agent_event_notice(notice text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF notice IS NOT NULL THEN
        PERFORM pg_notify('agent_events', notice);
    END IF;
    RETURN NULL;
END
$$
"""

_NUMBER = """
CREATE FUNCTION agent_event_number() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT position FROM agent_events WHERE id = NEW.id) IS NOT NULL THEN
        RETURN NULL;  -- numbered with the transaction's first event of the organization
    END IF;
    PERFORM pg_advisory_xact_lock(1634166134, hashtext(NEW.organization_id::text));
    -- Number the transaction's events of the organization that are still unnumbered, in the
    -- order they were inserted (the only ones this query can see: an event is numbered when
    -- its transaction commits): all of them at the first call, none at the calls that follow.
    UPDATE agent_events AS e SET position = last.position + todo.n
    FROM (
        SELECT coalesce(max(position), 0) AS position FROM agent_events
        WHERE organization_id = NEW.organization_id
    ) AS last, (
        SELECT id, row_number() OVER (ORDER BY id) AS n FROM agent_events
        WHERE organization_id = NEW.organization_id AND position IS NULL
    ) AS todo
    WHERE e.id = todo.id;
    RETURN NULL;
END
$$
"""

_TRIGGER = """
CREATE CONSTRAINT TRIGGER agent_events_number_at_commit
AFTER INSERT ON agent_events
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW WHEN (NEW.position IS NULL)
EXECUTE FUNCTION agent_event_number()
"""


def _position(nullable: bool) -> None:
    with warnings.catch_warnings():
        # SQLite copies the table; reflecting it reflects ``agents``, whose expression index
        # it cannot reflect (and the copy does not need).
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with op.batch_alter_table("agent_events") as batch:
            batch.alter_column("position", existing_type=sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    _position(nullable=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NOTICE)
        op.execute(_NUMBER)
        op.execute(_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER agent_events_number_at_commit ON agent_events")
        op.execute("DROP FUNCTION agent_event_number()")
        op.execute("DROP FUNCTION agent_event_notice(text)")
    _position(nullable=False)
