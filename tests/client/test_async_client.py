"""Every method of AsyncAgentsClient against the real app (httpx.ASGITransport) and PostgreSQL."""

from __future__ import annotations

import secrets
import uuid

import pytest
from litestar import Litestar

from agents_client import (
    AgentCreate,
    AgentEventPage,
    AgentExport,
    AgentImportRequest,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    ApiKeyCreate,
    ApiKeyPrincipalPublic,
    AsyncAgentsClient,
    AuthenticationError,
    NotFoundError,
    Page,
    PanelType,
    PermissionDeniedError,
    Role,
    SignupResponse,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from tests.client.conftest import BASE_URL, PASSWORD, asgi_client, signup_body
from tests.conftest import unique_email


def new_agent(**overrides: object) -> AgentCreate:
    values: dict[str, object] = {
        "name": f"Agent {secrets.token_hex(4)}",
        "instructions": "You are a helpful voice agent.",
    }
    values.update(overrides)
    return AgentCreate(**values)  # type: ignore[arg-type]


async def test_health(sdk: AsyncAgentsClient) -> None:
    assert (await sdk.health.live()).status == "ok"
    assert (await sdk.health.ready()).status == "ok"


async def test_signup_hands_its_token_to_the_client(sdk: AsyncAgentsClient) -> None:
    body = signup_body(full_name="Ada Lovelace")
    assert sdk.token is None
    response = await sdk.auth.signup(body)
    assert isinstance(response, SignupResponse)
    assert response.user.email == body.email
    assert response.user.role is Role.ADMIN
    assert response.organization.name == body.organization_name
    assert sdk.token == response.access_token
    me = await sdk.auth.me()
    assert isinstance(me, UserPublic)
    assert me.id == response.user.id
    assert me.full_name == "Ada Lovelace"


async def test_signup_without_use_token_leaves_the_client_anonymous(
    sdk: AsyncAgentsClient,
) -> None:
    await sdk.auth.signup(signup_body(), use_token=False)
    assert sdk.token is None
    with pytest.raises(AuthenticationError):
        await sdk.auth.me()


async def test_login(app: Litestar, signed_up: tuple[AsyncAgentsClient, SignupResponse]) -> None:
    _, account = signed_up
    async with (
        asgi_client(app) as http,
        AsyncAgentsClient(BASE_URL, http_client=http) as client,
    ):
        token = await client.auth.login(account.user.email, PASSWORD, use_token=False)
        assert token.token_type == "bearer"
        assert token.expires_in > 0
        assert client.token is None

        await client.auth.login(account.user.email.upper(), PASSWORD)
        assert client.token is not None
        me = await client.auth.me()
        assert isinstance(me, UserPublic)
        assert me.id == account.user.id

        with pytest.raises(AuthenticationError) as caught:
            await client.auth.login(account.user.email, "wrong password")
        assert caught.value.status == 401
        assert caught.value.response.headers["WWW-Authenticate"] == "Bearer"


async def test_users(app: Litestar, admin_sdk: AsyncAgentsClient) -> None:
    email = unique_email("member")
    user = await admin_sdk.users.create(
        UserCreate(email=email, password=PASSWORD, role=Role.MEMBER, full_name="Grace")
    )
    assert user.role is Role.MEMBER
    assert user.is_active

    users = await admin_sdk.users.list()
    assert {u.email for u in users} == {(await admin_sdk.auth.me()).email, email}  # type: ignore[union-attr]

    renamed = await admin_sdk.users.update(str(user.id), UserUpdate(full_name="Grace Hopper"))
    assert renamed.full_name == "Grace Hopper"
    assert renamed.role is Role.MEMBER  # members not sent stay as they were

    async with (
        asgi_client(app) as http,
        AsyncAgentsClient(BASE_URL, http_client=http) as member,
    ):
        await member.auth.login(email, PASSWORD)
        assert (await member.agents.list()).total == 0
        with pytest.raises(PermissionDeniedError) as caught:
            await member.users.list()
        assert caught.value.code == "forbidden"

        promoted = await admin_sdk.users.update(user.id, UserUpdate(role=Role.ADMIN))
        assert promoted.role is Role.ADMIN
        assert len(await member.users.list()) == 2

        await admin_sdk.users.update(user.id, UserUpdate(is_active=False))
        with pytest.raises(AuthenticationError):
            await member.auth.me()


async def test_api_keys(app: Litestar, admin_sdk: AsyncAgentsClient) -> None:
    created = await admin_sdk.api_keys.create(ApiKeyCreate(name="workers", role=Role.MEMBER))
    assert created.key.startswith(created.prefix)
    listed = await admin_sdk.api_keys.list()
    assert [(k.id, k.name, k.prefix) for k in listed] == [(created.id, "workers", created.prefix)]
    assert not hasattr(listed[0], "key")

    async with (
        asgi_client(app) as http,
        AsyncAgentsClient(BASE_URL, api_key=created.key, http_client=http) as worker,
    ):
        me = await worker.auth.me()
        assert isinstance(me, ApiKeyPrincipalPublic)
        assert me.api_key.id == created.id
        assert me.role is Role.MEMBER
        assert me.user is None

        await admin_sdk.api_keys.delete(created.id)
        assert await admin_sdk.api_keys.list() == []
        with pytest.raises(AuthenticationError):
            await worker.auth.me()
    with pytest.raises(NotFoundError):
        await admin_sdk.api_keys.delete(created.id)


async def test_create_get_list(admin_sdk: AsyncAgentsClient) -> None:
    first = await admin_sdk.agents.create(
        new_agent(
            name="Triage desk",
            tools=["search", "calendar"],
            modality=AgentModality.AUDIO_SCREENSHARE,
            panels=[PanelType.NOTEPAD],
            voice="alloy",
        )
    )
    assert isinstance(first, AgentPublic)
    assert first.current_version == 1
    assert first.model == "gpt-4.1-mini"
    assert first.tools == ["search", "calendar"]
    second = await admin_sdk.agents.create(new_agent(name="Billing expert"))

    assert await admin_sdk.agents.get(first.id) == first
    assert await admin_sdk.agents.get(str(second.id)) == second

    page = await admin_sdk.agents.list()
    assert isinstance(page, Page)
    assert page.total == 2
    assert [a.id for a in page] == [second.id, first.id]  # newest first
    assert not page.has_more

    one = await admin_sdk.agents.list(limit=1, offset=1)
    assert one.total == 2
    assert one.offset == 1
    assert [a.id for a in one.items] == [first.id]

    assert [a.id for a in (await admin_sdk.agents.list(q="TRIAGE")).items] == [first.id]
    assert [a.id for a in await admin_sdk.agents.list(tool="calendar")] == [first.id]
    by_modality = await admin_sdk.agents.list(modality=AgentModality.AUDIO_ONLY)
    assert [a.id for a in by_modality] == [second.id]
    assert by_modality.total == 1


async def test_iterate_reads_every_page(admin_sdk: AsyncAgentsClient) -> None:
    created = [(await admin_sdk.agents.create(new_agent(tools=["paged"]))).id for _ in range(5)]
    await admin_sdk.agents.create(new_agent(tools=["other"]))
    seen = [a.id async for a in admin_sdk.agents.iterate(tool="paged", page_size=2)]
    assert seen == created[::-1]
    everything = [a.id async for a in admin_sdk.agents.iterate(page_size=4)]
    assert len(everything) == 6
    assert [a async for a in admin_sdk.agents.iterate(q="no such agent")] == []


async def test_update_patch_and_versions(admin_sdk: AsyncAgentsClient) -> None:
    agent = await admin_sdk.agents.create(new_agent(voice="alloy"))
    updated = await admin_sdk.agents.update(
        agent.id, AgentUpdate(instructions="Be brief.", voice=None), expected_version=1
    )
    assert updated.current_version == 2
    assert updated.instructions == "Be brief."
    assert updated.voice is None
    assert updated.name == agent.name

    patched = await admin_sdk.agents.patch(agent.id, AgentUpdate(tools=["search"]))
    assert patched.current_version == 3
    assert patched.tools == ["search"]
    unchanged = await admin_sdk.agents.patch(
        agent.id, AgentUpdate(tools=["search"]), expected_version=3
    )
    assert unchanged.current_version == 3

    versions = await admin_sdk.agents.versions.list(agent.id)
    assert [v.version for v in versions] == [2, 1]
    assert all(isinstance(v, AgentVersionPublic) for v in versions)
    first = await admin_sdk.agents.versions.get(agent.id, 1)
    assert first.snapshot == agent.config()
    assert first.created_by == (await admin_sdk.auth.me()).id  # type: ignore[union-attr]

    restored = await admin_sdk.agents.versions.restore(agent.id, 1, expected_version=3)
    assert restored.current_version == 4
    assert restored.config() == agent.config()
    assert [v.version for v in await admin_sdk.agents.versions.list(agent.id)] == [3, 2, 1]
    again = await admin_sdk.agents.versions.restore(str(agent.id), 2)
    assert again.instructions == "Be brief."


async def test_delete_and_force(admin_sdk: AsyncAgentsClient) -> None:
    expert = await admin_sdk.agents.create(new_agent())
    triage = await admin_sdk.agents.create(new_agent(handoff_targets=[expert.id]))
    lonely = await admin_sdk.agents.create(new_agent())

    await admin_sdk.agents.delete(lonely.id)
    with pytest.raises(NotFoundError):
        await admin_sdk.agents.get(lonely.id)

    await admin_sdk.agents.delete(expert.id, force=True)
    after = await admin_sdk.agents.get(triage.id)
    assert after.handoff_targets == []
    assert after.current_version == 2
    assert (await admin_sdk.agents.list()).total == 1


async def test_duplicate(admin_sdk: AsyncAgentsClient) -> None:
    agent = await admin_sdk.agents.create(new_agent(name="Receptionist", tools=["calendar"]))
    copy = await admin_sdk.agents.duplicate(agent.id)
    assert copy.id != agent.id
    assert copy.name == "Receptionist (Copy)"
    assert copy.tools == ["calendar"]
    assert copy.current_version == 1
    second = await admin_sdk.agents.duplicate(agent.id)
    assert second.name == "Receptionist (Copy 2)"
    assert await admin_sdk.agents.versions.list(copy.id) == []


async def test_export_then_import_elsewhere(
    admin_sdk: AsyncAgentsClient, signed_up: tuple[AsyncAgentsClient, SignupResponse]
) -> None:
    expert = await admin_sdk.agents.create(new_agent(name="Expert", tools=["kb"]))
    await admin_sdk.agents.create(new_agent(name="Triage", handoff_targets=[expert.id]))
    exported = await admin_sdk.agents.export()
    assert all(isinstance(a, AgentExport) for a in exported)
    by_name = {a.name: a for a in exported}
    assert set(by_name) == {"Expert", "Triage"}
    assert by_name["Triage"].handoff_targets == ["Expert"]

    other, _ = signed_up
    preview = await other.agents.import_agents(exported, dry_run=True)
    assert preview.created == 2
    assert preview.skipped == 0
    assert (await other.agents.list()).total == 0

    result = await other.agents.import_agents(AgentImportRequest(agents=exported))
    assert result.created == 2
    assert {a.name for a in result.agents} == {"Expert", "Triage"}
    imported = {a.name: a for a in await other.agents.list()}
    assert imported["Triage"].handoff_targets == [imported["Expert"].id]
    assert imported["Expert"].organization_id != expert.organization_id

    again = await other.agents.import_agents(exported)
    assert again.created == 0
    assert again.skipped == 2


async def test_events_and_cursor_iteration(admin_sdk: AsyncAgentsClient) -> None:
    agents = [await admin_sdk.agents.create(new_agent()) for _ in range(3)]
    await admin_sdk.agents.update(agents[0].id, AgentUpdate(instructions="Changed."))

    page = await admin_sdk.agents.events(limit=2)
    assert isinstance(page, AgentEventPage)
    assert len(page.events) == 2
    assert page.next_cursor is not None
    rest = await admin_sdk.agents.events(after=page.next_cursor)

    events = [e async for e in admin_sdk.agents.iter_events(limit=2)]
    assert [(e.agent_id, e.version) for e in events] == [
        (agents[0].id, 1),
        (agents[1].id, 1),
        (agents[2].id, 1),
        (agents[0].id, 2),
    ]
    assert len({e.id for e in events}) == 4
    assert [e.id for e in events[:2]] == [e.id for e in page.events]
    assert [e.id for e in rest.events] == [e.id for e in events[2:]]

    tail = [e async for e in admin_sdk.agents.iter_events(after=events[-1].cursor)]
    assert tail == []


async def test_not_found_for_another_organization(
    admin_sdk: AsyncAgentsClient, signed_up: tuple[AsyncAgentsClient, SignupResponse]
) -> None:
    agent = await admin_sdk.agents.create(new_agent())
    other, _ = signed_up
    with pytest.raises(NotFoundError) as foreign:
        await other.agents.get(agent.id)
    with pytest.raises(NotFoundError) as missing:
        await other.agents.get(uuid.uuid4())
    assert foreign.value.code == missing.value.code == "agent_not_found"
