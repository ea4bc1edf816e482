"""Release planning without a database: which agents a release holds (closed under handoff),
what one release changes against another, and the canary rule."""

from __future__ import annotations

import uuid
from hashlib import sha256

import msgspec
import pytest

from agents_core.environments.routing import Serving, canary_bucket
from agents_core.errors import EmptyRelease, InvalidAgents
from agents_core.releases.closure import AgentHead, plan_members
from agents_core.releases.comparison import compare_releases, pinned_differently
from agents_core.schemas import AgentConfig, AgentModality, ReleaseChange


def heads(*agents: tuple[uuid.UUID, int, list[uuid.UUID]]) -> dict[uuid.UUID, AgentHead]:
    return {
        agent_id: AgentHead(
            id=agent_id, name=f"Agent {i}", current_version=version, handoff_targets=targets
        )
        for i, (agent_id, version, targets) in enumerate(agents)
    }


def test_without_a_choice_every_active_agent_at_its_current_version() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    active = heads((a, 3, [b]), (b, 1, []), (c, 7, []))
    assert plan_members(active) == {a: 3, b: 1, c: 7}
    with pytest.raises(EmptyRelease):
        plan_members({})


def test_a_choice_takes_its_whole_reachable_graph_and_nothing_else() -> None:
    triage, billing, coding, docs, alone = (uuid.uuid4() for _ in range(5))
    active = heads(
        (triage, 2, [billing, coding]),
        (billing, 1, [triage]),  # a cycle back to the entry
        (coding, 5, [docs]),
        (docs, 1, [coding]),  # and a cycle further down
        (alone, 1, []),
    )
    members = plan_members(active, [triage])
    assert members == {triage: 2, billing: 1, coding: 5, docs: 1}
    # Closed under handoff: every target of a member is a member.
    for agent_id in members:
        assert set(active[agent_id].handoff_targets) <= set(members)
    # Choosing a leaf takes only what it reaches.
    assert plan_members(active, [docs]) == {docs: 1, coding: 5}
    assert plan_members(active, [alone, docs]) == {alone: 1, docs: 1, coding: 5}


def test_chosen_ids_that_are_not_active_agents_are_each_named() -> None:
    a = uuid.uuid4()
    missing, other = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(InvalidAgents) as raised:
        plan_members(heads((a, 1, [])), [missing, a, other])
    assert raised.value.code == "invalid_agents"
    assert [e.field for e in raised.value.errors or []] == ["agents[0]", "agents[2]"]
    assert str(missing) in raised.value.detail
    assert str(other) in raised.value.detail


def test_a_broken_invariant_is_a_bug_not_an_open_release() -> None:
    a, gone = uuid.uuid4(), uuid.uuid4()
    with pytest.raises(RuntimeError):
        plan_members(heads((a, 1, [gone])), [a])


def config(**changes: object) -> AgentConfig:
    base = AgentConfig(
        name="Agent",
        instructions="Help.",
        model="gpt-4.1-mini",
        voice=None,
        handoff_targets=[],
        tools=[],
        modality=AgentModality.AUDIO_ONLY,
        panels=[],
    )
    return msgspec.structs.replace(base, **changes)


def test_comparing_releases_by_agent_ordered_by_name() -> None:
    kept, changed, added, removed = (uuid.uuid4() for _ in range(4))
    base = {kept: ("Kept", 1), changed: ("changed", 1), removed: ("Removed", 4)}
    release = {kept: ("Kept", 1), changed: ("Changed", 3), added: ("Added", 2)}
    assert pinned_differently(base, release) == [changed]
    configs = {
        (changed, 1): config(name="changed", voice="alloy", tools=["search"]),
        (changed, 3): config(name="Changed", voice="alloy", tools=["search", "run"]),
    }
    diff = compare_releases(1, 2, base, release, configs)
    assert (diff.base, diff.release) == (1, 2)
    assert [(a.name, a.change, a.base_version, a.version, a.fields) for a in diff.agents] == [
        ("Added", ReleaseChange.ADDED, None, 2, []),
        ("Changed", ReleaseChange.CHANGED, 1, 3, ["name", "tools"]),
        ("Removed", ReleaseChange.REMOVED, 4, None, []),
    ]
    # Against itself: nothing.
    assert compare_releases(2, 2, release, release, {}).agents == []


def test_field_changes_keep_snapshot_order_and_json_values() -> None:
    target = uuid.uuid4()
    before = config(voice="alloy", modality=AgentModality.AUDIO_ONLY)
    after = config(voice=None, handoff_targets=[target], modality=AgentModality.AUDIO_CAMERA)
    changes = before.changes_to(after)
    assert [(c.field, c.before, c.after) for c in changes] == [
        ("voice", "alloy", None),
        ("handoff_targets", [], [str(target)]),
        ("modality", "audio_only", "audio_camera"),
    ]
    assert after.changes_to(before)[0].before is None  # backwards: before is always "from"
    assert before.changes_to(before) == []


def test_the_canary_rule_is_the_contract_s_expression() -> None:
    for call_id in ("call-1", "x", "é", "a:b"):
        expected = int.from_bytes(sha256(f"production:{call_id}".encode()).digest()[:8], "big")
        assert canary_bucket("production", call_id) == expected % 100
    serving = Serving(release=4, canary_release=5, canary_weight=20, revision=2)
    for call_id in (f"call-{i}" for i in range(200)):
        goes = canary_bucket("production", call_id) < 20
        assert serving.release_for("production", call_id) == (5 if goes else 4)
        # Sticky: the same call always lands on the same side.
        assert serving.release_for("production", call_id) == serving.release_for(
            "production", call_id
        )
    assert serving.release_for("production", None) == 4
    assert (
        Serving(release=4, canary_release=None, canary_weight=None, revision=1).release_for(
            "production", "call-1"
        )
        == 4
    )


def test_a_weight_of_20_sends_about_a_fifth_of_distinct_calls_to_the_canary() -> None:
    serving = Serving(release=1, canary_release=2, canary_weight=20, revision=1)
    sent = sum(serving.release_for("production", f"call-{i}") == 2 for i in range(2000))
    assert 0.17 * 2000 <= sent <= 0.23 * 2000
