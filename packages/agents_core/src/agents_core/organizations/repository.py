"""The organizations aggregate's statements."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, bindparam, insert, select

from agents_core.db import Connection, Query, RowShape
from agents_core.db.models import Organization
from agents_core.schemas import OrganizationPublic

__all__ = ["OrganizationRepository"]

_organizations = cast(Table, Organization.__table__)
ORGANIZATION = RowShape(OrganizationPublic, _organizations)

_INSERT = Query(
    insert(_organizations)
    .values(
        id=bindparam("new_id"),
        name=bindparam("new_name"),
        created_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
    .returning(*ORGANIZATION.columns)
)
_GET = Query(select(*ORGANIZATION.columns).where(_organizations.c.id == bindparam("id")))


class OrganizationRepository:
    __slots__ = ("conn",)

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def insert(self, organization_id: UUID, name: str, now: datetime) -> OrganizationPublic:
        row = await self.conn.fetchrow(
            _INSERT, {"new_id": organization_id, "new_name": name, "now": now}
        )
        assert row is not None
        return ORGANIZATION(row)

    async def get(self, organization_id: UUID) -> OrganizationPublic | None:
        row = await self.conn.fetchrow(_GET, {"id": organization_id})
        return None if row is None else ORGANIZATION(row)
