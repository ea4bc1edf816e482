"""Users and organizations: sign-up, membership, roles, credentials check."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agents_core.db.models import Organization, User
from agents_core.errors import EmailTaken, LastAdmin, NotFound
from agents_core.schemas import (
    OrganizationPublic,
    Role,
    UnsetType,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from agents_core.users.passwords import hash_password, verify_against_nothing, verify_password

__all__ = ["UserNotFound", "UserService", "organization_public", "user_public"]


class UserNotFound(NotFound):
    code = "user_not_found"

    def __init__(self) -> None:
        super().__init__("User not found")


def user_public(user: User) -> UserPublic:
    return UserPublic(
        id=user.id,
        organization_id=user.organization_id,
        email=user.email,
        full_name=user.full_name,
        role=Role(user.role),
        is_active=user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


def organization_public(organization: Organization) -> OrganizationPublic:
    return OrganizationPublic(
        id=organization.id,
        name=organization.name,
        created_at=organization.created_at,
        updated_at=organization.updated_at,
    )


class UserService:
    """Operations on users; every one scoped to an organization except sign-up and login."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _email_exists(self, email: str) -> bool:
        stmt = select(User.id).where(func.lower(User.email) == email.lower())
        return (await self.session.execute(stmt)).first() is not None

    async def _add_user(self, user: User) -> User:
        self.session.add(user)
        try:
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError:
            # Lost a race with another sign-up for the same email.
            raise EmailTaken() from None
        return user

    async def signup(
        self, *, organization_name: str, email: str, password: str, full_name: str | None
    ) -> tuple[Organization, User]:
        """Create an organization and its first user, an admin."""
        if await self._email_exists(email):
            raise EmailTaken()
        password_hash = await asyncio.to_thread(hash_password, password)
        organization = Organization(name=organization_name.strip())
        self.session.add(organization)
        await self.session.flush()
        user = User(
            organization_id=organization.id,
            email=email,
            full_name=full_name,
            role=Role.ADMIN.value,
            password_hash=password_hash,
            is_active=True,
        )
        await self._add_user(user)
        return organization, user

    async def create(self, organization_id: UUID, data: UserCreate) -> User:
        if await self._email_exists(data.email):
            raise EmailTaken()
        password_hash = await asyncio.to_thread(hash_password, data.password)
        user = User(
            organization_id=organization_id,
            email=data.email,
            full_name=data.full_name,
            role=data.role.value,
            password_hash=password_hash,
            is_active=True,
        )
        return await self._add_user(user)

    async def list(self, organization_id: UUID) -> Sequence[User]:
        stmt = (
            select(User)
            .where(User.organization_id == organization_id)
            .order_by(User.created_at, User.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def get(self, organization_id: UUID, user_id: UUID) -> User:
        stmt = select(User).where(User.id == user_id, User.organization_id == organization_id)
        user = (await self.session.scalars(stmt)).first()
        if user is None:
            raise UserNotFound()
        return user

    async def update(self, organization_id: UUID, user_id: UUID, data: UserUpdate) -> User:
        # Lock the organization's active admins first, so that two admins demoting each other
        # at the same time cannot leave the organization without one.
        admins_stmt = (
            select(User.id)
            .where(
                User.organization_id == organization_id,
                User.role == Role.ADMIN.value,
                User.is_active.is_(True),
            )
            .order_by(User.id)
            .with_for_update()
        )
        active_admins = set((await self.session.scalars(admins_stmt)).all())
        user = await self.get(organization_id, user_id)
        new_role = data.role.value if isinstance(data.role, Role) else user.role
        new_active = data.is_active if isinstance(data.is_active, bool) else user.is_active
        loses_admin = user.id in active_admins and (new_role != Role.ADMIN.value or not new_active)
        if loses_admin and len(active_admins) <= 1:
            raise LastAdmin()
        user.role = new_role
        user.is_active = new_active
        if not isinstance(data.full_name, UnsetType):
            user.full_name = data.full_name
        await self.session.flush()
        return user

    async def authenticate(self, email: str, password: str) -> User | None:
        """The active user with these credentials, or ``None`` (unknown email, wrong password
        and inactive user are indistinguishable to the caller, and take the same time)."""
        stmt = select(User).where(func.lower(User.email) == email.lower())
        user = (await self.session.scalars(stmt)).first()
        if user is None:
            await asyncio.to_thread(verify_against_nothing, password)
            return None
        ok = await asyncio.to_thread(verify_password, user.password_hash, password)
        if not ok or not user.is_active:
            return None
        return user

    async def get_organization(self, organization_id: UUID) -> Organization:
        organization = await self.session.get(Organization, organization_id)
        if organization is None:
            raise NotFound("Organization not found")
        return organization
