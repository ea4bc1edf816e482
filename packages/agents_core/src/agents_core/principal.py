"""Who is acting: the one result of authenticating either kind of credential."""

from __future__ import annotations

from uuid import UUID

import msgspec

from agents_core.schemas import Role

__all__ = ["Principal"]


class Principal(msgspec.Struct, frozen=True):
    """An authenticated caller, always bound to one organization."""

    organization_id: UUID
    role: Role
    user_id: UUID | None = None
    api_key_id: UUID | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def actor_id(self) -> UUID | None:
        """The user to record as the author of a change (``None`` for an API key)."""
        return self.user_id
