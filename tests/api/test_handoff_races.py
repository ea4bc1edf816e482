"""The handoff invariant under concurrency: an active agent never hands off to a deleted one."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from agents_core.db.database import Database
from agents_core.db.models import Agent
from tests.conftest import Account, CreateAgent, agent_body, orm_session


async def test_create_and_delete_of_its_target_racing_never_leave_a_dangling_handoff(
    client: httpx.AsyncClient, admin: Account, create_agent: CreateAgent, database: Database
) -> None:
    targets = [await create_agent(name=f"Target {i}") for i in range(8)]

    async def refer(target_id: str) -> httpx.Response:
        return await client.post(
            "/api/v1/agents", json=agent_body(handoff_targets=[target_id]), headers=admin.headers
        )

    async def delete(target_id: str) -> httpx.Response:
        return await client.delete(f"/api/v1/agents/{target_id}", headers=admin.headers)

    results = await asyncio.gather(
        *[coro for t in targets for coro in (refer(t["id"]), delete(t["id"]))]
    )
    for create, remove in zip(results[::2], results[1::2], strict=True):
        # Exactly one of the two wins: the referrer exists and the target stays, or the
        # target is gone and the referrer was refused.
        assert (create.status_code, remove.status_code) in {(201, 409), (400, 204)}, (
            create.text,
            remove.text,
        )

    async with orm_session(database) as session:
        rows = (
            await session.execute(
                select(Agent.id, Agent.handoff_targets, Agent.is_active).where(
                    Agent.organization_id == admin.organization_id
                )
            )
        ).all()
    active = {row.id for row in rows if row.is_active}
    for row in rows:
        if row.is_active:
            assert set(row.handoff_targets) <= active
