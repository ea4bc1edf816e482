"""The users aggregate's rules: sign-up, membership, roles, the credentials check.

A password hash takes tens of milliseconds and 64 MiB, and only a few run at once: nothing here
holds a database connection while it waits for one (the connection is given back first).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from agents_core.db import Connection
from agents_core.errors import EmailTaken, LastAdmin, NotFound, UserNotFound
from agents_core.organizations.repository import OrganizationRepository
from agents_core.principal import Principal
from agents_core.schemas import (
    OrganizationPublic,
    Role,
    SignupRequest,
    UnsetType,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from agents_core.service import ScopedService, Service
from agents_core.users.passwords import hash_password_async, verify_password_async
from agents_core.users.repository import UserRepository

__all__ = ["AccountService", "UserNotFound", "UserService"]


async def _let_go(conn: Connection) -> None:
    """Give the connection back while a password hash is computed (unless a caller's
    transaction holds it: then it stays, with the transaction)."""
    if not conn.in_transaction:
        await conn.release()


async def _new_password_hash(users: UserRepository, email: str, password: str) -> str:
    """The hash of a new user's password, after checking that the email is free (so that a
    taken email answers at once); the connection is given back while hashing."""
    if await users.credentials(email) is not None:
        raise EmailTaken()
    await _let_go(users.conn)
    return await hash_password_async(password)


async def _insert_user(
    users: UserRepository,
    organization_id: UUID,
    data: SignupRequest | UserCreate,
    role: Role,
    password_hash: str,
    now: datetime,
) -> UserPublic:
    return await users.insert(
        organization_id,
        user_id=uuid4(),
        email=data.email,
        full_name=data.full_name,
        role=role,
        password_hash=password_hash,
        now=now,
    )


class AccountService(Service):
    """Sign-up and the credentials check: what finds the organization (an email, a token),
    so it spans organizations."""

    users: UserRepository
    organizations: OrganizationRepository

    async def signup(self, data: SignupRequest) -> tuple[OrganizationPublic, UserPublic]:
        """Create an organization and its first user, an admin."""
        password_hash = await _new_password_hash(self.users, data.email, data.password)
        now = datetime.now(UTC)
        async with self.conn.transaction():
            organization = await self.organizations.insert(
                uuid4(), data.organization_name.strip(), now
            )
            user = await _insert_user(
                self.users, organization.id, data, Role.ADMIN, password_hash, now
            )
        return organization, user

    async def by_email(self, email: str) -> UserPublic | None:
        return await self.users.by_email(email)

    async def organization(self, organization_id: UUID) -> OrganizationPublic:
        organization = await self.organizations.get(organization_id)
        if organization is None:
            raise NotFound("Organization not found")
        return organization

    async def authenticate(self, email: str, password: str) -> Principal | None:
        """The active user with these credentials, or ``None``: an unknown email, a wrong
        password and an inactive user are indistinguishable to the caller, and take as long."""
        found = await self.users.credentials(email)
        await _let_go(self.conn)
        ok = await verify_password_async(None if found is None else found.password_hash, password)
        if found is None or not ok or not found.is_active:
            return None
        return Principal(organization_id=found.organization_id, role=found.role, user_id=found.id)

    async def principal(self, user_id: UUID) -> Principal | None:
        """The principal of an active user (a token only names the user; its state is read
        now)."""
        return await self.users.principal(user_id)


class UserService(ScopedService):
    """Users of the scope's organization."""

    users: UserRepository

    async def create(self, data: UserCreate) -> UserPublic:
        password_hash = await _new_password_hash(self.users, data.email, data.password)
        return await _insert_user(
            self.users, self.organization_id, data, data.role, password_hash, datetime.now(UTC)
        )

    async def list(self) -> list[UserPublic]:
        return await self.users.list(self.organization_id)

    async def get(self, user_id: UUID) -> UserPublic:
        return await self.users.get(self.organization_id, user_id)

    async def update(self, user_id: UUID, data: UserUpdate) -> UserPublic:
        async with self.conn.transaction():
            active_admins = await self.users.lock_active_admins(self.organization_id)
            user = await self.get(user_id)
            role = data.role if isinstance(data.role, Role) else user.role
            is_active = data.is_active if isinstance(data.is_active, bool) else user.is_active
            loses_admin = user.id in active_admins and (role is not Role.ADMIN or not is_active)
            if loses_admin and len(active_admins) <= 1:
                raise LastAdmin()
            full_name = user.full_name if isinstance(data.full_name, UnsetType) else data.full_name
            return await self.users.update(
                user, role=role, is_active=is_active, full_name=full_name, now=datetime.now(UTC)
            )
