"""The users aggregate's rules: sign-up, membership, roles, the credentials check.

A password hash takes tens of milliseconds and 64 MiB, and only a few run at once: nothing here
holds a database connection while it waits for one (the connection is given back first).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

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
from agents_core.service import Service
from agents_core.users.passwords import hash_password_async, verify_password_async
from agents_core.users.repository import UserRepository

__all__ = ["UserNotFound", "UserService"]


class UserService(Service):
    """Users and their organizations, on one connection."""

    users: UserRepository
    organizations: OrganizationRepository

    async def _new_password_hash(self, email: str, password: str) -> str:
        """The hash of a new user's password, after checking that the email is free (so that a
        taken email answers at once); the connection is given back while hashing."""
        if await self.users.credentials(email) is not None:
            raise EmailTaken()
        await self._let_go()
        return await hash_password_async(password)

    async def _let_go(self) -> None:
        """Give the connection back while a password hash is computed (unless a caller's
        transaction holds it: then it stays, with the transaction)."""
        if not self.conn.in_transaction:
            await self.conn.release()

    async def signup(self, data: SignupRequest) -> tuple[OrganizationPublic, UserPublic]:
        """Create an organization and its first user, an admin."""
        password_hash = await self._new_password_hash(data.email, data.password)
        now = datetime.now(UTC)
        async with self.conn.transaction():
            organization = await self.organizations.insert(
                uuid4(), data.organization_name.strip(), now
            )
            user = await self.users.insert(
                organization.id,
                user_id=uuid4(),
                email=data.email,
                full_name=data.full_name,
                role=Role.ADMIN,
                password_hash=password_hash,
                now=now,
            )
        return organization, user

    async def create(self, organization_id: UUID, data: UserCreate) -> UserPublic:
        password_hash = await self._new_password_hash(data.email, data.password)
        return await self.users.insert(
            organization_id,
            user_id=uuid4(),
            email=data.email,
            full_name=data.full_name,
            role=data.role,
            password_hash=password_hash,
            now=datetime.now(UTC),
        )

    async def list(self, organization_id: UUID) -> list[UserPublic]:
        return await self.users.list(organization_id)

    async def get(self, organization_id: UUID, user_id: UUID) -> UserPublic:
        return await self.users.get(organization_id, user_id)

    async def by_email(self, email: str) -> UserPublic | None:
        return await self.users.by_email(email)

    async def organization(self, organization_id: UUID) -> OrganizationPublic:
        organization = await self.organizations.get(organization_id)
        if organization is None:
            raise NotFound("Organization not found")
        return organization

    async def update(self, organization_id: UUID, user_id: UUID, data: UserUpdate) -> UserPublic:
        async with self.conn.transaction():
            active_admins = await self.users.lock_active_admins(organization_id)
            user = await self.get(organization_id, user_id)
            role = data.role if isinstance(data.role, Role) else user.role
            is_active = data.is_active if isinstance(data.is_active, bool) else user.is_active
            loses_admin = user.id in active_admins and (role is not Role.ADMIN or not is_active)
            if loses_admin and len(active_admins) <= 1:
                raise LastAdmin()
            full_name = user.full_name if isinstance(data.full_name, UnsetType) else data.full_name
            return await self.users.update(
                user, role=role, is_active=is_active, full_name=full_name, now=datetime.now(UTC)
            )

    async def authenticate(self, email: str, password: str) -> Principal | None:
        """The active user with these credentials, or ``None``: an unknown email, a wrong
        password and an inactive user are indistinguishable to the caller, and take as long."""
        found = await self.users.credentials(email)
        await self._let_go()
        ok = await verify_password_async(None if found is None else found.password_hash, password)
        if found is None or not ok or not found.is_active:
            return None
        return Principal(organization_id=found.organization_id, role=found.role, user_id=found.id)

    async def principal(self, user_id: UUID) -> Principal | None:
        """The principal of an active user (a token only names the user; its state is read
        now)."""
        return await self.users.principal(user_id)
