"""Demo data: an organization with an admin, a member, two sample agents, a release of them
and a ``production`` environment serving it.

Idempotent. The organization is found through its admin's email (emails are unique across the
deployment, organization names are not); users and agents that already exist are left exactly
as they are (passwords included), so a second run changes nothing and reports so. The agents go
through the bulk import, which skips names that are taken and resolves the triage agent's
handoff to the coding expert by name. A release is created when this run created agents or the
organization has none yet, and ``production`` is pointed at it (or, when it does not exist, at
the latest release).
"""

from __future__ import annotations

import secrets
from importlib.resources import files
from typing import Final, TypeVar
from uuid import UUID

import msgspec

from agents_core.agents.service import AgentService
from agents_core.db import Connection
from agents_core.environments.service import EnvironmentService
from agents_core.errors import Conflict, EnvironmentNotFound, InvalidInput
from agents_core.releases.service import ReleaseService
from agents_core.schemas import (
    AgentExport,
    EnvironmentPut,
    ReleaseCreate,
    Role,
    SignupRequest,
    UserCreate,
)
from agents_core.service import Scope
from agents_core.users.service import AccountService, UserService

__all__ = [
    "DEMO_ADMIN_EMAIL",
    "DEMO_ENVIRONMENT",
    "DEMO_MEMBER_EMAIL",
    "DEMO_ORGANIZATION",
    "SAMPLE_AGENTS",
    "SeedReport",
    "SeededUser",
    "seed_demo",
]

T = TypeVar("T")

DEMO_ORGANIZATION: Final = "Demo Organization"
DEMO_ADMIN_EMAIL: Final = "admin@demo.example.com"
DEMO_MEMBER_EMAIL: Final = "member@demo.example.com"
DEMO_ENVIRONMENT: Final = "production"

SAMPLE_AGENTS: Final = msgspec.json.decode(
    files("agents_core").joinpath("sample_agents.json").read_bytes(), type=tuple[AgentExport, ...]
)
"""The sample agents, in import form (handoff targets by name): the package's
``sample_agents.json``."""


class SeededUser(msgspec.Struct, kw_only=True):
    email: str
    role: Role
    created: bool
    password: str | None
    """The password, when this run created the user; ``None`` for an existing user (whose
    password is left as it was)."""


class SeedReport(msgspec.Struct, kw_only=True):
    organization_id: UUID
    organization_name: str
    organization_created: bool
    admin: SeededUser
    member: SeededUser
    agents_created: list[str]
    agents_existing: list[str]
    release: int
    """The release ``production`` serves."""
    release_created: bool
    environment_changed: bool
    """Whether this run created ``production`` or moved it."""

    @property
    def changed(self) -> bool:
        return (
            self.organization_created
            or self.admin.created
            or self.member.created
            or bool(self.agents_created)
            or self.release_created
            or self.environment_changed
        )


def _new_password() -> str:
    return secrets.token_urlsafe(12)


def _checked(kind: type[T], **values: object) -> T:
    """The request type's own validation (email format, password length …) on seed input."""
    try:
        return msgspec.convert(values, kind)
    except msgspec.ValidationError as exc:
        raise InvalidInput(str(exc)) from None


async def seed_demo(
    conn: Connection,
    *,
    organization_name: str = DEMO_ORGANIZATION,
    admin_email: str = DEMO_ADMIN_EMAIL,
    admin_password: str | None = None,
    member_email: str = DEMO_MEMBER_EMAIL,
    member_password: str | None = None,
) -> SeedReport:
    """Create (or find) the demo organization, its two users and the sample agents.

    Passwords not given are generated for users this run creates. Raises :class:`Conflict`
    when an email is already used in another organization, or the admin email belongs to a
    user who is not an admin.
    """
    async with conn.transaction():
        return await _seed(
            conn,
            organization_name=organization_name,
            admin_email=admin_email,
            admin_password=admin_password,
            member_email=member_email,
            member_password=member_password,
        )


async def _seed(
    conn: Connection,
    *,
    organization_name: str,
    admin_email: str,
    admin_password: str | None,
    member_email: str,
    member_password: str | None,
) -> SeedReport:
    accounts = AccountService(conn)

    admin = await accounts.by_email(admin_email)
    if admin is None:
        signup = _checked(
            SignupRequest,
            organization_name=organization_name,
            email=admin_email,
            password=admin_password or _new_password(),
            full_name="Demo Admin",
        )
        admin_password = signup.password
        organization, admin = await accounts.signup(signup)
        organization_created = admin_created = True
    else:
        if admin.role is not Role.ADMIN:
            raise Conflict(f"{admin_email} exists and is not an admin")
        organization = await accounts.organization(admin.organization_id)
        organization_created = admin_created = False
        admin_password = None
    organization_id = organization.id
    scope = Scope(conn, organization_id, admin.id)

    member = await accounts.by_email(member_email)
    if member is None:
        data = _checked(
            UserCreate,
            email=member_email,
            password=member_password or _new_password(),
            role=Role.MEMBER.value,
            full_name="Demo Member",
        )
        member_password = data.password
        member = await UserService(scope).create(data)
        member_created = True
    else:
        if member.organization_id != organization_id:
            raise Conflict(f"{member_email} belongs to another organization")
        member_created = False
        member_password = None

    result = await AgentService(scope).import_agents(list(SAMPLE_AGENTS))
    release, release_created, environment_changed = await _release(
        scope, new_agents=bool(result.created_names)
    )
    return SeedReport(
        organization_id=organization_id,
        organization_name=organization.name,
        organization_created=organization_created,
        admin=SeededUser(
            email=admin.email, role=Role.ADMIN, created=admin_created, password=admin_password
        ),
        member=SeededUser(
            email=member.email,
            role=member.role,
            created=member_created,
            password=member_password,
        ),
        agents_created=result.created_names,
        agents_existing=result.skipped_names,
        release=release,
        release_created=release_created,
        environment_changed=environment_changed,
    )


async def _release(scope: Scope, *, new_agents: bool) -> tuple[int, bool, bool]:
    """Release the agents when there is something new to release, and point ``production`` at
    it; returns the release ``production`` serves, and whether a release was created and
    ``production`` created or moved."""
    releases = ReleaseService(scope)
    environments = EnvironmentService(scope)
    latest = (await releases.page(limit=1)).items
    if new_agents or not latest:
        number = (await releases.create(ReleaseCreate(message="Demo agents"))).number
        created = True
    else:
        number, created = latest[0].number, False
    try:
        production = await environments.get(DEMO_ENVIRONMENT)
    except EnvironmentNotFound:
        production = None
    if production is not None and not created:
        return production.release, False, False
    await environments.put(DEMO_ENVIRONMENT, EnvironmentPut(release=number))
    return number, created, True
