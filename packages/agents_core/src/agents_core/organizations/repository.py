"""The organizations aggregate's statements."""

from __future__ import annotations

from datetime import datetime
from typing import cast
from uuid import UUID

from sqlalchemy import Table, bindparam, select

from agents_core.db import Query, Repository, RowShape, insert_into, new_values
from agents_core.db.models import Organization
from agents_core.schemas import OrganizationPublic

__all__ = ["OrganizationRepository"]

_organizations = cast(Table, Organization.__table__)
ORGANIZATION = RowShape(OrganizationPublic, _organizations)

_INSERT = Query(insert_into(_organizations, ("id", "name")).returning(*ORGANIZATION.columns))
_GET = Query(select(*ORGANIZATION.columns).where(_organizations.c.id == bindparam("id")))


class OrganizationRepository(Repository):
    async def insert(self, organization_id: UUID, name: str, now: datetime) -> OrganizationPublic:
        inserted = await ORGANIZATION.one(
            self.conn, _INSERT, new_values(now, id=organization_id, name=name)
        )
        assert inserted is not None
        return inserted

    async def get(self, organization_id: UUID) -> OrganizationPublic | None:
        return await ORGANIZATION.one(self.conn, _GET, {"id": organization_id})
