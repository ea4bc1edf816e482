"""client.releases, client.environments and agents.diff, async and sync, against the real app;
the new problem codes raise their own typed errors."""

from __future__ import annotations

import secrets
import uuid

import pytest

from agents_client import (
    AgentCreate,
    AgentDiff,
    AgentsClient,
    AgentUpdate,
    AsyncAgentsClient,
    Canary,
    EmptyReleaseError,
    Environment,
    EnvironmentNotFoundError,
    EnvironmentPut,
    InvalidAgentsError,
    InvalidEnvironmentError,
    InvalidReleaseError,
    NotFoundError,
    NothingToRollBackError,
    NotInHistoryError,
    PreconditionFailedError,
    Release,
    ReleaseChange,
    ReleaseCreate,
    ReleasedAgent,
    ReleaseNotFoundError,
    RevisionMismatchError,
)
from tests.client.conftest import signup_body


def agent(**overrides: object) -> AgentCreate:
    values: dict[str, object] = {"name": f"Agent {secrets.token_hex(4)}", "instructions": "Hi."}
    values.update(overrides)
    return AgentCreate(**values)  # type: ignore[arg-type]


async def test_releases_and_environments_through_the_async_client(
    admin_sdk: AsyncAgentsClient,
) -> None:
    sdk = admin_sdk
    with pytest.raises(EmptyReleaseError):
        await sdk.releases.create()
    expert = await sdk.agents.create(agent(name="Expert"))
    triage = await sdk.agents.create(agent(name="Triage", handoff_targets=[expert.id]))
    first = await sdk.releases.create(ReleaseCreate(agents=[triage.id], message="One"))
    assert isinstance(first, Release)
    assert (first.number, first.message) == (1, "One")
    assert [m.name for m in first.agents] == ["Expert", "Triage"]
    await sdk.agents.update(expert.id, AgentUpdate(voice="verse"))
    second = await sdk.releases.create()
    assert second.number == 2

    page = await sdk.releases.list(limit=1)
    assert (page.total, [r.number for r in page]) == (2, [2])
    assert [r.number async for r in sdk.releases.iterate(page_size=1)] == [2, 1]
    assert (await sdk.releases.get(1)) == first
    pinned = await sdk.releases.agent(1, expert.id)
    assert isinstance(pinned, ReleasedAgent)
    assert (pinned.voice, pinned.version, pinned.release) == (None, 1, 1)
    diff = await sdk.releases.diff(2, 1)
    assert [(a.name, a.change, a.fields) for a in diff.agents] == [
        ("Expert", ReleaseChange.CHANGED, ["voice"])
    ]
    agent_diff = await sdk.agents.diff(expert.id, 1)
    assert isinstance(agent_diff, AgentDiff)
    assert (agent_diff.from_, agent_diff.to) == (1, 2)
    assert [(c.field, c.before, c.after) for c in agent_diff.changes] == [("voice", None, "verse")]

    created = await sdk.environments.put("production", EnvironmentPut(release=1))
    assert isinstance(created, Environment)
    assert created.revision == 1
    moved = await sdk.environments.put(
        "production",
        EnvironmentPut(release=2, canary=Canary(release=1, weight=10)),
        expected_revision=1,
    )
    assert (moved.revision, moved.canary) == (2, Canary(release=1, weight=10))
    with pytest.raises(RevisionMismatchError) as stale:
        await sdk.environments.put("production", EnvironmentPut(release=1), expected_revision=1)
    assert isinstance(stale.value, PreconditionFailedError)
    assert stale.value.code == "revision_mismatch"
    staging = await sdk.environments.promote("staging", from_="production")
    assert (staging.release, staging.canary) == (2, None)
    assert [e.name for e in await sdk.environments.list()] == ["production", "staging"]
    assert (await sdk.environments.get("staging")) == staging
    back = await sdk.environments.rollback("production")
    assert (back.release, back.canary) == (1, None)
    again = await sdk.environments.rollback("production", 2, expected_revision=back.revision)
    assert again.release == 2
    moves = await sdk.environments.history("production", limit=2)
    assert (moves.total, [m.revision for m in moves]) == (4, [4, 3])
    assert [m.revision async for m in sdk.environments.iter_history("production", page_size=3)] == [
        4,
        3,
        2,
        1,
    ]
    served = await sdk.environments.resolve("production", triage.id, call_id="call-1")
    assert (served.release, served.handoff_targets) == (2, [expert.id])
    await sdk.environments.delete("staging")

    with pytest.raises(EnvironmentNotFoundError) as missing:
        await sdk.environments.get("staging")
    assert isinstance(missing.value, NotFoundError)
    with pytest.raises(ReleaseNotFoundError):
        await sdk.releases.get(9)
    with pytest.raises(InvalidReleaseError):
        await sdk.environments.put("production", EnvironmentPut(release=9))
    with pytest.raises(InvalidEnvironmentError):
        await sdk.environments.promote("production", from_="nowhere")
    with pytest.raises(NotInHistoryError):
        await sdk.environments.rollback("production", 5)
    with pytest.raises(InvalidAgentsError) as invalid:
        await sdk.releases.create(ReleaseCreate(agents=[expert.id, uuid.uuid4()]))
    assert [e.field for e in invalid.value.errors] == ["agents[1]"]
    await sdk.environments.put("fresh", EnvironmentPut(release=1))
    with pytest.raises(NothingToRollBackError):
        await sdk.environments.rollback("fresh")


def test_the_sync_client_has_them_too(sync_sdk: AgentsClient) -> None:
    sync_sdk.auth.signup(signup_body())
    created = sync_sdk.agents.create(agent())
    number = sync_sdk.releases.create().number
    environment = sync_sdk.environments.put("production", EnvironmentPut(release=number))
    assert environment.release == number
    assert sync_sdk.environments.resolve("production", created.id).agent_id == created.id
    assert [r.number for r in sync_sdk.releases.iterate()] == [number]
    with pytest.raises(EnvironmentNotFoundError):
        sync_sdk.environments.delete("staging")
