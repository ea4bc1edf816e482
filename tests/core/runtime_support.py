"""Helpers shared by the runtime tests: organizations and agents written through the service."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from typing import Any

from agents_core.agents.service import AgentService
from agents_core.db.database import Database
from agents_core.runtime import ChangeStream
from agents_core.schemas import AgentCreate, AgentUpdate
from agents_core.users.service import UserService


async def new_org(db: Database) -> uuid.UUID:
    async with db.session() as session:
        organization, _ = await UserService(session).signup(
            organization_name="Org",
            email=f"{secrets.token_hex(6)}@example.com",
            password="password 1",
            full_name=None,
        )
    return organization.id


async def create(db: Database, org: uuid.UUID, name: str, **fields: Any) -> uuid.UUID:
    data = AgentCreate(name=name, instructions=f"You are {name}.", **fields)
    async with db.session() as session:
        agent = await AgentService(session).create(org, data)
    return agent.id


async def update(db: Database, org: uuid.UUID, agent_id: uuid.UUID, **fields: Any) -> int:
    async with db.session() as session:
        agent = await AgentService(session).update(org, agent_id, AgentUpdate(**fields))
    return agent.current_version


async def wait_for_change(stream: ChangeStream, agent_id: uuid.UUID, timeout: float = 1.0) -> None:
    """Until the catalog has applied a change of ``agent_id`` (at most ``timeout`` seconds)."""
    async with asyncio.timeout(timeout):
        async for change in stream:
            if change.agent_id == agent_id:
                return
