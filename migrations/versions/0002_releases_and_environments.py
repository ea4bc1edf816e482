"""releases, environments, and an event feed numbered per organization

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30

The event feed gains events that are not about one agent (``released``, ``deployed``): their
``agent_id`` is null and they name a ``release`` and an ``environment``. Each organization's
events get a ``position`` of their own (1, 2, 3 … in commit order), numbered here for the events
already recorded, so that the feed's cursors no longer reveal other organizations' activity.

Downgrading deletes the events that have no agent (the old schema cannot hold them) along with
releases and environments.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GUID = advanced_alchemy.types.guid.GUID(length=16)


def _timestamp(name: str) -> sa.Column[object]:
    return sa.Column(
        name, advanced_alchemy.types.datetime.DateTimeUTC(timezone=True), nullable=False
    )


@contextmanager
def _events_in_batch() -> Iterator[BatchOperations]:
    """``agent_events`` altered in batch (on SQLite: copied into a new table). Reflecting it
    reflects the ``agents`` table it refers to, whose expression index (``lower(name)``) SQLite
    cannot reflect; the copy does not need it, so that warning says nothing here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*expression-based index")
        with op.batch_alter_table("agent_events") as batch:
            yield batch


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("organization_id", _GUID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("message", sa.String(length=1000), nullable=True),
        sa.Column("created_by", _GUID, nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_releases_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_releases_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_releases")),
        sa.UniqueConstraint("organization_id", "number", name=op.f("uq_releases_organization_id")),
    )
    op.create_table(
        "release_agents",
        sa.Column("release_id", _GUID, nullable=False),
        sa.Column("agent_id", _GUID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["agents.id"],
            name=op.f("fk_release_agents_agent_id_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["release_id"],
            ["releases.id"],
            name=op.f("fk_release_agents_release_id_releases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("release_id", "agent_id", name=op.f("pk_release_agents")),
    )
    op.create_table(
        "environments",
        sa.Column("id", _GUID, nullable=False),
        sa.Column("organization_id", _GUID, nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("canary_release", sa.Integer(), nullable=True),
        sa.Column("canary_weight", sa.Integer(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", _GUID, nullable=True),
        sa.Column("sa_orm_sentinel", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.ForeignKeyConstraint(
            ["organization_id", "canary_release"],
            ["releases.organization_id", "releases.number"],
            name="fk_environments_canary_release_releases",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id", "release"],
            ["releases.organization_id", "releases.number"],
            name="fk_environments_release_releases",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_environments_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_environments_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint(
            "organization_id", "name", name=op.f("uq_environments_organization_id")
        ),
    )
    op.create_table(
        "environment_moves",
        sa.Column("environment_id", _GUID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("release", sa.Integer(), nullable=False),
        sa.Column("canary_release", sa.Integer(), nullable=True),
        sa.Column("canary_weight", sa.Integer(), nullable=True),
        sa.Column("previous_release", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        _timestamp("created_at"),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_environment_moves_environment_id_environments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("environment_id", "revision", name=op.f("pk_environment_moves")),
    )

    op.add_column("agent_events", sa.Column("position", sa.BigInteger(), nullable=True))
    op.add_column("agent_events", sa.Column("release", sa.Integer(), nullable=True))
    op.add_column("agent_events", sa.Column("environment", sa.String(length=63), nullable=True))
    # Each organization's events numbered 1, 2, 3 … in the order of their ids, which is their
    # commit order within the organization (see agents_core.events.repository).
    events = sa.table(
        "agent_events",
        sa.column("id", sa.BigInteger()),
        sa.column("organization_id", _GUID),
        sa.column("position", sa.BigInteger()),
    )
    numbered = sa.select(
        events.c.id,
        sa.func.row_number()
        .over(partition_by=events.c.organization_id, order_by=events.c.id)
        .label("n"),
    ).subquery("numbered")
    op.execute(events.update().where(events.c.id == numbered.c.id).values(position=numbered.c.n))
    with _events_in_batch() as batch:
        batch.alter_column("position", existing_type=sa.BigInteger(), nullable=False)
        batch.alter_column("agent_id", existing_type=_GUID, nullable=True)
        batch.drop_index("ix_agent_events_org_id")
        batch.create_index(
            "uq_agent_events_org_position", ["organization_id", "position"], unique=True
        )


def downgrade() -> None:
    events = sa.table("agent_events", sa.column("agent_id", _GUID))
    op.execute(events.delete().where(events.c.agent_id.is_(None)))
    with _events_in_batch() as batch:
        batch.drop_index("uq_agent_events_org_position")
        batch.create_index("ix_agent_events_org_id", ["organization_id", "id"], unique=False)
        batch.alter_column("agent_id", existing_type=_GUID, nullable=False)
        batch.drop_column("environment")
        batch.drop_column("release")
        batch.drop_column("position")
    op.drop_table("environment_moves")
    op.drop_table("environments")
    op.drop_table("release_agents")
    op.drop_table("releases")
