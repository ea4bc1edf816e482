"""Every method of the blocking AgentsClient against the real app, through Litestar's TestClient
(an ``httpx.Client`` that runs the app in a thread with its own event loop)."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from agents_client import (
    AgentCreate,
    AgentEventPage,
    AgentExport,
    AgentModality,
    AgentsClient,
    AgentUpdate,
    APIConnectionError,
    ApiKeyCreate,
    ApiKeyPrincipalPublic,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    Role,
    ServerError,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from tests.client.conftest import PASSWORD, signup_body
from tests.client.faults import SyncFaults, connect_error, problem
from tests.conftest import unique_email


def new_agent(**extra: object) -> AgentCreate:
    name = f"Sync agent {secrets.token_hex(4)}"
    return AgentCreate(name=name, instructions="Speak slowly.", **extra)  # type: ignore[arg-type]


@pytest.fixture
def admin(sync_sdk: AgentsClient) -> AgentsClient:
    sync_sdk.auth.signup(signup_body())
    return sync_sdk


def other_client(sync_app: TestClient[Litestar], **kwargs: str) -> AgentsClient:
    return AgentsClient(str(sync_app.base_url), http_client=sync_app, **kwargs)  # type: ignore[arg-type]


def test_health_and_auth(sync_app: TestClient[Litestar], sync_sdk: AgentsClient) -> None:
    assert sync_sdk.health.live().status == "ok"
    assert sync_sdk.health.ready().status == "ok"

    body = signup_body()
    signed = sync_sdk.auth.signup(body, use_token=False)
    assert sync_sdk.token is None
    assert signed.user.email == body.email

    token = sync_sdk.auth.login(body.email, PASSWORD)
    assert sync_sdk.token == token.access_token
    me = sync_sdk.auth.me()
    assert isinstance(me, UserPublic)
    assert me.id == signed.user.id

    with other_client(sync_app) as anonymous, pytest.raises(AuthenticationError):
        anonymous.auth.me()


def test_users_and_api_keys(sync_app: TestClient[Litestar], admin: AgentsClient) -> None:
    email = unique_email("sync-member")
    user = admin.users.create(UserCreate(email=email, password=PASSWORD, role=Role.MEMBER))
    assert user.email == email
    assert email in {u.email for u in admin.users.list()}
    changed = admin.users.update(user.id, UserUpdate(full_name="Sync Member"))
    assert changed.full_name == "Sync Member"

    with other_client(sync_app) as member:
        member.auth.login(email, PASSWORD)
        with pytest.raises(PermissionDeniedError):
            member.api_keys.list()

    created = admin.api_keys.create(ApiKeyCreate(name="sync worker", role=Role.ADMIN))
    assert [k.id for k in admin.api_keys.list()] == [created.id]
    with other_client(sync_app, api_key=created.key) as worker:
        me = worker.auth.me()
        assert isinstance(me, ApiKeyPrincipalPublic)
        assert me.role is Role.ADMIN
        admin.api_keys.delete(created.id)
        with pytest.raises(AuthenticationError):
            worker.agents.list()
    assert admin.api_keys.list() == []


def test_agents_every_method(sync_app: TestClient[Litestar], admin: AgentsClient) -> None:
    expert = admin.agents.create(new_agent(tools=["kb"], modality=AgentModality.AUDIO_CAMERA))
    triage = admin.agents.create(new_agent(handoff_targets=[expert.id]))
    assert admin.agents.get(expert.id) == expert

    page = admin.agents.list(limit=1)
    assert page.total == 2
    assert [a.id for a in page] == [triage.id]
    assert page.has_more
    assert [a.id for a in admin.agents.list(modality=AgentModality.AUDIO_CAMERA)] == [expert.id]
    assert [a.id for a in admin.agents.iterate(page_size=1)] == [triage.id, expert.id]
    assert [a.id for a in admin.agents.iterate(tool="kb", q=expert.name[-4:])] == [expert.id]

    updated = admin.agents.update(expert.id, AgentUpdate(voice="verse"), expected_version=1)
    assert (updated.voice, updated.current_version) == ("verse", 2)
    patched = admin.agents.patch(expert.id, AgentUpdate(tools=[]), expected_version=2)
    assert (patched.tools, patched.current_version) == ([], 3)
    with pytest.raises(PreconditionFailedError):
        admin.agents.update(expert.id, AgentUpdate(voice=None), expected_version=2)

    assert [v.version for v in admin.agents.versions.list(expert.id)] == [2, 1]
    assert admin.agents.versions.get(expert.id, 1).snapshot == expert.config()
    restored = admin.agents.versions.restore(expert.id, 1)
    assert restored.config() == expert.config()
    assert restored.current_version == 4

    copy = admin.agents.duplicate(triage.id)
    assert copy.name == f"{triage.name} (Copy)"
    assert copy.handoff_targets == [expert.id]

    exported = admin.agents.export()
    assert all(isinstance(a, AgentExport) for a in exported)
    assert {a.name for a in exported} == {expert.name, triage.name, copy.name}
    preview = admin.agents.import_agents(exported, dry_run=True)
    assert (preview.created, preview.skipped) == (0, 3)

    with other_client(sync_app) as elsewhere:
        elsewhere.auth.signup(signup_body())
        result = elsewhere.agents.import_agents(exported)
        assert result.created == 3
        assert elsewhere.agents.list().total == 3

    with pytest.raises(ConflictError) as referenced:
        admin.agents.delete(expert.id)
    assert referenced.value.code == "agent_referenced"
    admin.agents.delete(copy.id)
    admin.agents.delete(expert.id, force=True)
    assert admin.agents.get(triage.id).handoff_targets == []
    with pytest.raises(NotFoundError):
        admin.agents.get(expert.id)
    with pytest.raises(NotFoundError):
        admin.agents.versions.get(triage.id, 99)
    with pytest.raises(BadRequestError) as bad:
        admin.agents.list(offset=-1)
    assert [e.field for e in bad.value.errors] == ["offset"]
    with pytest.raises(NotFoundError):
        admin.agents.duplicate(uuid.uuid4())


def test_events(admin: AgentsClient) -> None:
    created = [admin.agents.create(new_agent()) for _ in range(3)]
    first = admin.agents.events(limit=1)
    assert isinstance(first, AgentEventPage)
    assert [e.agent_id for e in first.events] == [created[0].id]
    events = list(admin.agents.iter_events(limit=2))
    assert [e.agent_id for e in events] == [a.id for a in created]
    assert list(admin.agents.iter_events(after=events[0].cursor)) == events[1:]


@pytest.fixture
def faulty(sync_app: TestClient[Litestar]) -> Iterator[tuple[AgentsClient, SyncFaults]]:
    faults = SyncFaults(sync_app)
    with (
        httpx.Client(transport=faults) as http,
        AgentsClient(str(sync_app.base_url), http_client=http) as client,
    ):
        client.auth.signup(signup_body())
        faults.seen.clear()
        faults.reached_app.clear()
        yield client, faults


def test_sync_retries(faulty: tuple[AgentsClient, SyncFaults]) -> None:
    client, faults = faulty
    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    started = time.monotonic()
    assert client.agents.list().total == 0
    assert time.monotonic() - started < 0.5
    assert faults.seen == [("GET", "/api/v1/agents")] * 2

    faults.seen.clear()
    faults.faults.append(problem(503, **{"Retry-After": "0"}))
    with pytest.raises(ServerError):
        client.agents.create(new_agent())
    assert faults.seen == [("POST", "/api/v1/agents")]
    assert client.agents.list().total == 0

    faults.seen.clear()
    faults.faults.append(connect_error)
    with pytest.raises(APIConnectionError):
        client.agents.create(new_agent())
    agent = client.agents.create(new_agent())
    faults.faults.append(connect_error)
    assert client.agents.get(agent.id) == agent
    assert [m for m, _ in faults.seen] == ["POST", "POST", "GET", "GET"]
