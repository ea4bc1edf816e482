"""an event's number, ordering lock and notice in the statement that records it (PostgreSQL)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Recording an event took three round trips inside the organization's ordering lock: take the
lock and queue the notice, insert the event (numbered one more than the organization's last),
commit. ``agent_event_position(organization, notice)`` does the first inside the insert: it takes
the lock, queues the notice, and then reads the last number. It is ``VOLATILE``, so under READ
COMMITTED its own query reads a snapshot taken after the lock was granted (a subquery of the
insert itself would read the insert's snapshot, taken before it waited for the lock, and could
miss an event committed meanwhile). The lock (two int4 keys: ``0x61676576`` and the hash of the
organization id) and the channel (``agent_events``) are those of
``agents_core.events.repository``. SQLite has one writer at a time and no notices: nothing here.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE FUNCTION agent_event_position(organization uuid, notice text) RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(1634166134, hashtext(organization::text));
    IF notice IS NOT NULL THEN
        PERFORM pg_notify('agent_events', notice);
    END IF;
    RETURN (
        SELECT coalesce(max(position), 0) + 1 FROM agent_events
        WHERE organization_id = organization
    );
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_CREATE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION agent_event_position(uuid, text)")
