"""Every SDK method, sync and async, as a user would type it. Never run: ``test_typing`` checks
it with ``mypy --strict`` (``assert_type`` pins each result to the exact wire type)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import assert_type
from uuid import UUID

from agents_client import (
    AgentCreate,
    AgentEvent,
    AgentEventPage,
    AgentExport,
    AgentImportRequest,
    AgentImportResult,
    AgentModality,
    AgentPublic,
    AgentsClient,
    AgentUpdate,
    AgentVersionPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPrincipalPublic,
    ApiKeyPublic,
    AsyncAgentsClient,
    BadRequestError,
    FieldError,
    HealthStatus,
    Page,
    PreconditionFailedError,
    ProblemDetails,
    Role,
    SignupRequest,
    SignupResponse,
    TokenResponse,
    UserCreate,
    UserPublic,
    UserUpdate,
)


def sync_usage(agent_id: UUID, key_id: str) -> None:
    with AgentsClient("https://agents.example", timeout=10.0, max_retries=3) as client:
        assert_type(client.health.live(), HealthStatus)
        assert_type(client.health.ready(), HealthStatus)
        signup = SignupRequest(organization_name="Acme", email="a@acme.test", password="x" * 12)
        assert_type(client.auth.signup(signup), SignupResponse)
        assert_type(client.auth.signup(signup, use_token=False), SignupResponse)
        assert_type(client.auth.login("a@acme.test", "x" * 12), TokenResponse)
        assert_type(client.auth.me(), UserPublic | ApiKeyPrincipalPublic)

        user = client.users.create(
            UserCreate(email="b@acme.test", password="y" * 9, role=Role.MEMBER)
        )
        assert_type(user, UserPublic)
        assert_type(client.users.list(), list[UserPublic])
        assert_type(client.users.update(user.id, UserUpdate(is_active=False)), UserPublic)

        assert_type(client.api_keys.create(ApiKeyCreate(name="w", role=Role.ADMIN)), ApiKeyCreated)
        assert_type(client.api_keys.list(), list[ApiKeyPublic])
        assert_type(client.api_keys.delete(key_id), None)

        agent = client.agents.create(AgentCreate(name="Triage", instructions="Help."))
        assert_type(agent, AgentPublic)
        page = client.agents.list(limit=10, offset=0, q="tri", modality=AgentModality.AUDIO_ONLY)
        assert_type(page, Page[AgentPublic])
        assert_type(page.total, int)
        assert_type(client.agents.iterate(tool="search", page_size=50), Iterator[AgentPublic])
        assert_type(client.agents.get(agent_id), AgentPublic)
        changes = AgentUpdate(voice=None)
        assert_type(client.agents.update(agent.id, changes, expected_version=1), AgentPublic)
        assert_type(client.agents.patch(str(agent.id), changes), AgentPublic)
        assert_type(client.agents.delete(agent.id, force=True), None)
        assert_type(client.agents.duplicate(agent.id), AgentPublic)
        exported = client.agents.export()
        assert_type(exported, list[AgentExport])
        assert_type(client.agents.import_agents(exported, dry_run=True), AgentImportResult)
        assert_type(
            client.agents.import_agents(AgentImportRequest(agents=exported)), AgentImportResult
        )
        assert_type(client.agents.events(after=None, limit=100), AgentEventPage)
        assert_type(client.agents.iter_events(after="cursor"), Iterator[AgentEvent])

        assert_type(client.agents.versions.list(agent.id), list[AgentVersionPublic])
        assert_type(client.agents.versions.get(agent.id, 1), AgentVersionPublic)
        assert_type(client.agents.versions.restore(agent.id, 1, expected_version=2), AgentPublic)

        client.token = None
        try:
            client.agents.update(agent.id, changes, expected_version=7)
        except PreconditionFailedError as error:
            assert_type(error.status, int)
            assert_type(error.code, str | None)
            assert_type(error.problem, ProblemDetails)
        except BadRequestError as error:
            assert_type(error.errors, list[FieldError])
    client.close()


async def async_usage(agent_id: UUID, key_id: str) -> None:
    async with AsyncAgentsClient("https://agents.example", api_key="agk_x") as client:
        assert_type(await client.health.live(), HealthStatus)
        assert_type(await client.health.ready(), HealthStatus)
        signup = SignupRequest(organization_name="Acme", email="a@acme.test", password="x" * 12)
        assert_type(await client.auth.signup(signup), SignupResponse)
        assert_type(await client.auth.login("a@acme.test", "x" * 12), TokenResponse)
        assert_type(await client.auth.me(), UserPublic | ApiKeyPrincipalPublic)

        user = await client.users.create(
            UserCreate(email="b@acme.test", password="y" * 9, role=Role.MEMBER)
        )
        assert_type(user, UserPublic)
        assert_type(await client.users.list(), list[UserPublic])
        assert_type(await client.users.update(user.id, UserUpdate(role=Role.ADMIN)), UserPublic)

        created = await client.api_keys.create(ApiKeyCreate(name="w", role=Role.MEMBER))
        assert_type(created, ApiKeyCreated)
        assert_type(await client.api_keys.list(), list[ApiKeyPublic])
        assert_type(await client.api_keys.delete(key_id), None)

        agent = await client.agents.create(AgentCreate(name="Triage", instructions="Help."))
        assert_type(agent, AgentPublic)
        assert_type(await client.agents.list(tool="search"), Page[AgentPublic])
        assert_type(client.agents.iterate(page_size=10), AsyncIterator[AgentPublic])
        assert_type(await client.agents.get(agent_id), AgentPublic)
        changes = AgentUpdate(name="Front desk")
        assert_type(await client.agents.update(agent.id, changes), AgentPublic)
        assert_type(await client.agents.patch(agent.id, changes, expected_version=2), AgentPublic)
        assert_type(await client.agents.delete(agent.id), None)
        assert_type(await client.agents.duplicate(agent.id), AgentPublic)
        exported = await client.agents.export()
        assert_type(await client.agents.import_agents(exported), AgentImportResult)
        assert_type(await client.agents.events(limit=5), AgentEventPage)
        async for event in client.agents.iter_events():
            assert_type(event, AgentEvent)
        async for each in client.agents.iterate():
            assert_type(each, AgentPublic)

        assert_type(await client.agents.versions.list(agent.id), list[AgentVersionPublic])
        assert_type(await client.agents.versions.get(agent.id, 1), AgentVersionPublic)
        assert_type(await client.agents.versions.restore(agent.id, 1), AgentPublic)
    await client.close()
