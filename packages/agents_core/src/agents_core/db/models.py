"""SQLAlchemy models: the tables of every aggregate, on advanced-alchemy's audited UUID base."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.base import UUIDAuditBase, orm_registry
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from agents_core.db.types import JSONDocument, StringList, UUIDList
from agents_core.schemas import DEFAULT_MODEL

__all__ = [
    "AGENT_NAME_INDEX",
    "ENVIRONMENT_NAME_CONSTRAINT",
    "RELEASE_NUMBER_CONSTRAINT",
    "USER_EMAIL_INDEX",
    "Agent",
    "AgentEventRow",
    "AgentVersion",
    "ApiKey",
    "Environment",
    "EnvironmentMove",
    "Organization",
    "Release",
    "ReleaseMember",
    "User",
    "metadata",
]

metadata = orm_registry.metadata


AGENT_NAME_INDEX = "uq_agents_org_name_active"
"""The unique index that keeps active agents' names distinct within an organization: writers
report its violation as a name conflict."""


USER_EMAIL_INDEX = "uq_users_email_lower"
"""The unique index that keeps emails distinct across the deployment, case-insensitively."""


def _now() -> datetime:
    return datetime.now(UTC)


class Organization(UUIDAuditBase):
    __tablename__ = "organizations"

    name: Mapped[str] = mapped_column(String(255))

    users: Mapped[list[User]] = relationship(back_populates="organization", lazy="raise")
    agents: Mapped[list[Agent]] = relationship(back_populates="organization", lazy="raise")


class User(UUIDAuditBase):
    __tablename__ = "users"
    __table_args__ = (Index(USER_EMAIL_INDEX, func.lower(text("email")), unique=True),)

    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    full_name: Mapped[str | None] = mapped_column(String(255), default=None)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))

    organization: Mapped[Organization] = relationship(back_populates="users", lazy="raise")


class ApiKey(UUIDAuditBase):
    __tablename__ = "api_keys"

    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(32))
    key_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_by: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class Agent(UUIDAuditBase):
    __tablename__ = "agents"
    __table_args__ = (
        # Names are unique among an organization's *active* agents, case-insensitively. The
        # database enforces it so that two concurrent creates cannot both win.
        Index(
            AGENT_NAME_INDEX,
            "organization_id",
            func.lower(text("name")),
            unique=True,
            postgresql_where=text("is_active"),
            sqlite_where=text("is_active"),
        ),
        # The list endpoint: active agents of one organization, newest first.
        Index(
            "ix_agents_org_active_created",
            "organization_id",
            "is_active",
            "created_at",
        ),
    )

    # Indexed through the two composite indexes above, which lead with it.
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    instructions: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(
        String(255), default=DEFAULT_MODEL, server_default=DEFAULT_MODEL
    )
    voice: Mapped[str | None] = mapped_column(String(255), default=None)
    handoff_targets: Mapped[list[UUID]] = mapped_column(UUIDList(), default=list)
    tools: Mapped[list[str]] = mapped_column(StringList(), default=list)
    modality: Mapped[str] = mapped_column(
        String(32), default="audio_only", server_default="audio_only"
    )
    panels: Mapped[list[str]] = mapped_column(StringList(), default=list)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    current_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    organization: Mapped[Organization] = relationship(back_populates="agents", lazy="raise")
    versions: Mapped[list[AgentVersion]] = relationship(
        back_populates="agent", lazy="raise", order_by="AgentVersion.version.desc()"
    )


class AgentVersion(UUIDAuditBase):
    __tablename__ = "agent_versions"
    __table_args__ = (UniqueConstraint("agent_id", "version"),)

    agent_id: Mapped[UUID] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_by: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )

    agent: Mapped[Agent] = relationship(back_populates="versions", lazy="raise")


class _EventBase(DeclarativeBase):
    metadata = metadata


class AgentEventRow(_EventBase):
    """One change in an organization (an agent's, a release, an environment's move), written in
    the transaction that made it (the change feed).

    ``position`` numbers the organization's events from 1 in commit order (the feed's cursor;
    on PostgreSQL null until the transaction commits: see migration 0003); ``id`` is the
    deployment-wide number that change followers poll by. ``agent_id`` is null for events that
    are not about one agent (``released``, ``deployed``), which name their ``release`` and
    ``environment`` instead.
    """

    __tablename__ = "agent_events"
    __table_args__ = (
        Index("uq_agent_events_org_position", "organization_id", "position", unique=True),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    position: Mapped[int | None] = mapped_column(BigInteger)
    agent_id: Mapped[UUID | None] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), default=None
    )
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    release: Mapped[int | None] = mapped_column(Integer, default=None)
    environment: Mapped[str | None] = mapped_column(String(63), default=None)
    actor_id: Mapped[UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_now)


RELEASE_NUMBER_CONSTRAINT = "uq_releases_organization_id"
"""Keeps release numbers distinct within an organization."""


class Release(UUIDAuditBase):
    """An immutable set of agents, each pinned at a version; numbered per organization."""

    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("organization_id", "number"),)

    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str | None] = mapped_column(String(1000), default=None)
    created_by: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class ReleaseMember(_EventBase):
    """One agent of a release and the version it is pinned at: a pair, not a copy. The pinned
    configuration is the agent's row while it is still at that version, its saved snapshot
    afterwards (agents are only ever soft-deleted, and their versions stay)."""

    __tablename__ = "release_agents"

    release_id: Mapped[UUID] = mapped_column(
        ForeignKey("releases.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[UUID] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer)


ENVIRONMENT_NAME_CONSTRAINT = "uq_environments_organization_id"
"""Keeps environment names distinct within an organization."""


class Environment(UUIDAuditBase):
    """An organization's named pointer at a release, with an optional canary release."""

    __tablename__ = "environments"
    __table_args__ = (
        UniqueConstraint("organization_id", "name"),
        ForeignKeyConstraint(
            ["organization_id", "release"],
            ["releases.organization_id", "releases.number"],
            name="fk_environments_release_releases",
        ),
        ForeignKeyConstraint(
            ["organization_id", "canary_release"],
            ["releases.organization_id", "releases.number"],
            name="fk_environments_canary_release_releases",
        ),
    )

    organization_id: Mapped[UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(63))
    release: Mapped[int] = mapped_column(Integer)
    canary_release: Mapped[int | None] = mapped_column(Integer, default=None)
    canary_weight: Mapped[int | None] = mapped_column(Integer, default=None)
    revision: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class EnvironmentMove(_EventBase):
    """One move of an environment (its history); deleted with the environment."""

    __tablename__ = "environment_moves"

    environment_id: Mapped[UUID] = mapped_column(
        ForeignKey("environments.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    release: Mapped[int] = mapped_column(Integer)
    canary_release: Mapped[int | None] = mapped_column(Integer, default=None)
    canary_weight: Mapped[int | None] = mapped_column(Integer, default=None)
    previous_release: Mapped[int | None] = mapped_column(Integer, default=None)
    actor_id: Mapped[UUID | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True), default=_now)
