"""``agentsctl``'s pure parts, without a server: the plan from files, lock and server state; the
agent files (names, reading with lines, writing); what ``pull`` would lose."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest

from agents_client.ctl.agent_files import (
    AgentFileError,
    LocalAgent,
    file_names,
    normalized,
    read_agent_file,
    render_agent,
    slug,
)
from agents_client.ctl.lock import Lock, LockEntry, digests
from agents_client.ctl.plan import (
    NewAgent,
    Plan,
    PlanError,
    make_plan,
    temporary_name,
    unapplied_changes,
)
from agents_client.ctl.server import ServerAgent, ServerState, combine
from agents_client.spec import Page
from agents_core.schemas import AgentExport, AgentModality, AgentPublic, PanelType

ORG = uuid.uuid4()


def config(name: str, **members: Any) -> AgentExport:
    members.setdefault("instructions", f"You are {name}.")
    return normalized(msgspec.convert({"name": name, **members}, AgentExport))


def local(file: str, name: str, **members: Any) -> LocalAgent:
    return LocalAgent(file=file, path=f"agents/{file}", config=config(name, **members), lines={})


class World:
    """A server's agents by name, built up agent by agent (handoffs by name)."""

    def __init__(self) -> None:
        self.agents: dict[str, ServerAgent] = {}

    def add(self, name: str, version: int = 1, **members: Any) -> ServerAgent:
        agent_config = config(name, **members)
        ids = tuple(self.agents[t].id for t in agent_config.handoff_targets or ())
        agent = ServerAgent(id=uuid.uuid4(), version=version, config=agent_config, handoff_ids=ids)
        self.agents[name] = agent
        return agent

    def state(self) -> ServerState:
        return ServerState(organization_id=ORG, agents=tuple(self.agents.values()))

    def pulled(self) -> tuple[list[LocalAgent], Lock]:
        """What ``pull`` writes: one file per agent and the lock."""
        names = file_names(list(self.agents))
        files = [
            LocalAgent(file=f, path=f"agents/{f}", config=a.config, lines={})
            for f, a in zip(names, self.agents.values(), strict=True)
        ]
        entries = {
            f: LockEntry(id=a.id, name=a.config.name, version=a.version, fields=digests(a.config))
            for f, a in zip(names, self.agents.values(), strict=True)
        }
        return files, Lock(organization_id=ORG, agents=entries)


def edited(files: Sequence[LocalAgent], file: str, **members: Any) -> list[LocalAgent]:
    return [
        dataclasses.replace(f, config=normalized(msgspec.structs.replace(f.config, **members)))
        if f.file == file
        else f
        for f in files
    ]


def plan_of(files: Sequence[LocalAgent], lock: Lock, world: World, **options: bool) -> Plan:
    return make_plan(files, lock, world.state(), **options)


@pytest.fixture
def world() -> World:
    w = World()
    w.add("Billing", tools=["invoices"])
    w.add("Coding", modality="audio_screenshare", panels=["coding_ide"])
    w.add("Triage", version=3, handoff_targets=["Billing", "Coding"])
    return w


def test_files_as_pulled_are_in_sync(world: World) -> None:
    files, lock = world.pulled()
    plan = plan_of(files, lock, world)
    assert plan.in_sync
    assert [u.file for u in plan.unchanged] == ["billing.yaml", "coding.yaml", "triage.yaml"]


def test_an_edit_is_an_update_sent_with_the_locks_version(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "triage.yaml", instructions="New.", panels=[PanelType.NOTEPAD])
    plan = plan_of(files, lock, world)
    (update,) = plan.updates
    assert update.agent_id == world.agents["Triage"].id
    assert update.expected_version == 3
    assert [(c.member, c.before, c.after) for c in update.changes] == [
        ("instructions", "You are Triage.", "New."),
        ("panels", [], ["notepad"]),
    ]
    assert not plan.in_sync


def test_handoffs_compare_as_agents_not_names(world: World) -> None:
    files, lock = world.pulled()
    # Rename Billing in its file, and the triage's handoff with it: only Billing changes.
    files = edited(files, "billing.yaml", name="Payments")
    files = edited(files, "triage.yaml", handoff_targets=["payments", "coding"])
    plan = plan_of(files, lock, world)
    assert [(u.file, [c.member for c in u.changes]) for u in plan.updates] == [
        ("billing.yaml", ["name"])
    ]
    # Reordering handoffs is a change (the API keeps their order).
    files = edited(files, "triage.yaml", handoff_targets=["Coding", "Payments"])
    plan = plan_of(files, lock, world)
    assert [u.file for u in plan.updates] == ["billing.yaml", "triage.yaml"]


def test_a_server_change_since_the_pull_is_a_conflict(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "billing.yaml", instructions="Mine.")
    billing = world.agents["Billing"]
    world.agents["Billing"] = ServerAgent(
        id=billing.id,
        version=2,
        config=msgspec.structs.replace(billing.config, voice="sage"),
        handoff_ids=(),
    )
    plan = plan_of(files, lock, world)
    assert not plan.updates
    (conflict,) = plan.conflicts
    assert conflict.file == "billing.yaml"
    assert (conflict.base_version, conflict.server_version) == (1, 2)
    assert conflict.server_members == ("voice",)
    assert conflict.local_members == ("instructions",)
    assert conflict.differing == ("instructions", "voice")

    forced = plan_of(files, lock, world, force=True)
    (update,) = forced.updates
    assert update.forced
    assert update.expected_version == 2  # the server's, as read


def test_a_server_change_the_file_already_has_is_no_conflict(world: World) -> None:
    files, lock = world.pulled()
    billing = world.agents["Billing"]
    world.agents["Billing"] = ServerAgent(
        id=billing.id, version=5, config=billing.config, handoff_ids=()
    )
    assert plan_of(files, lock, world).in_sync


def test_a_file_the_lock_does_not_know_takes_the_agent_of_its_name(world: World) -> None:
    files, _ = world.pulled()
    files = edited(files, "coding.yaml", voice="echo")
    # Without a lock (a fresh directory, or another organization's lock) this is expected.
    for lock in (Lock(), Lock(organization_id=uuid.uuid4(), agents={"x.yaml": _entry()})):
        plan = plan_of(files, lock, world)
        (update,) = plan.updates
        assert (update.agent_id, update.expected_version) == (world.agents["Coding"].id, 1)
        assert plan.lock_ignored == bool(lock.agents)
    # With this organization's lock, an agent it does not know appeared since the pull.
    _, lock = world.pulled()
    lock = Lock(
        organization_id=ORG, agents={k: v for k, v in lock.agents.items() if k != "coding.yaml"}
    )
    (conflict,) = plan_of(files, lock, world).conflicts
    assert conflict.reason == "an agent of this name was created on the server since the pull"


def _entry(version: int = 1) -> LockEntry:
    return LockEntry(id=uuid.uuid4(), name="X", version=version, fields={})


def test_a_file_renamed_on_disk_keeps_its_base(world: World) -> None:
    files, lock = world.pulled()
    files = [
        dataclasses.replace(f, file="money.yaml") if f.file == "billing.yaml" else f for f in files
    ]
    files = edited(files, "money.yaml", instructions="Changed.")
    billing = world.agents["Billing"]
    plan = plan_of(files, lock, world)
    (update,) = plan.updates
    assert (update.file, update.agent_id, update.expected_version) == ("money.yaml", billing.id, 1)
    assert not plan.kept


def test_an_agent_deleted_on_the_server_is_a_conflict(world: World) -> None:
    files, lock = world.pulled()
    del world.agents["Triage"]
    plan = plan_of(files, lock, world)
    (conflict,) = plan.conflicts
    assert (conflict.file, conflict.reason) == (
        "triage.yaml",
        "deleted on the server since it was pulled",
    )
    forced = plan_of(files, lock, world, force=True)
    assert [c.file for c in forced.creates] == ["triage.yaml"]


def test_removed_files_are_kept_or_pruned(world: World) -> None:
    files, lock = world.pulled()
    world.add("Dashboard")  # created on the server after the pull
    files = [f for f in files if f.file != "coding.yaml"]
    files = edited(files, "triage.yaml", handoff_targets=["Billing"])

    plan = plan_of(files, lock, world)
    assert [(k.name, k.file) for k in plan.kept] == [
        ("Coding", "coding.yaml"),
        ("Dashboard", None),
    ]
    assert not plan.deletes

    pruned = plan_of(files, lock, world, prune=True)
    assert [(d.name, d.file) for d in pruned.deletes] == [("Coding", "coding.yaml")]
    (conflict,) = pruned.conflicts
    assert conflict.name == "Dashboard"
    assert conflict.reason.startswith("on the server but never pulled into these files")

    forced = plan_of(files, lock, world, prune=True, force=True)
    assert [(d.name, d.forced) for d in forced.deletes] == [
        ("Coding", False),
        ("Dashboard", True),
    ]


def test_pruning_an_agent_changed_since_the_pull_is_a_conflict(world: World) -> None:
    files, lock = world.pulled()
    files = [f for f in files if f.file != "billing.yaml"]
    files = edited(files, "triage.yaml", handoff_targets=["Coding"])
    billing = world.agents["Billing"]
    world.agents["Billing"] = ServerAgent(
        id=billing.id, version=2, config=billing.config, handoff_ids=()
    )
    (conflict,) = plan_of(files, lock, world, prune=True).conflicts
    assert conflict.reason == (
        "changed on the server since it was pulled (version 1 → 2); --prune would delete it"
    )


def problems_of(files: Sequence[LocalAgent], world: World, **options: bool) -> list[str]:
    with pytest.raises(PlanError) as caught:
        plan_of(files, Lock(), world, **options)
    return [str(p) for p in caught.value.problems]


def test_files_that_cannot_be_applied_are_named_with_their_lines(world: World) -> None:
    text = "name: A\nhandoff_targets:\n- a\n- Nobody\n- Coding\ninstructions: Hi.\n"
    a = read_agent_file("agents/a.yaml", text)
    b = local("b.yaml", "billing")
    c = local("c.yaml", "Billing")
    assert problems_of([a, b, c], world) == [
        "agents/c.yaml: the name 'Billing' is also the name in agents/b.yaml (agent names are "
        "unique, ignoring case)",
        "agents/a.yaml:3: an agent cannot hand off to itself",
        "agents/a.yaml:4: hands off to 'Nobody': no file here and no agent on the server has "
        "that name",
    ]
    # With --prune, only the files' agents remain: Coding would be deleted.
    assert (
        "agents/a.yaml:5: hands off to 'Coding', which has no file here: --prune would delete "
        "it while this agent hands off to it" in problems_of([a], world, prune=True)
    )


def test_a_name_held_by_an_agent_no_file_stands_for(world: World) -> None:
    files, lock = world.pulled()
    files = [f for f in files if f.file != "coding.yaml"]
    files = edited(files, "billing.yaml", name="Coding")
    files = edited(files, "triage.yaml", handoff_targets=["Coding"])
    with pytest.raises(PlanError) as caught:
        plan_of(files, lock, world)
    assert [p.message for p in caught.value.problems] == [
        "the name 'Coding' is held on the server by an agent that no file here stands for: "
        "rename one of them, or apply with --prune to delete that agent"
    ]
    # With --prune that agent is deleted, after being parked out of the name's way.
    plan = plan_of(files, lock, world, prune=True)
    assert [p.agent_id for p in plan.parks] == [world.agents["Coding"].id]
    assert [d.name for d in plan.deletes] == ["Coding"]


def test_swapped_names_park_both_agents(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "billing.yaml", name="Coding")
    files = edited(files, "coding.yaml", name="Billing")
    files = edited(files, "triage.yaml", handoff_targets=["Coding", "Billing"])
    plan = plan_of(files, lock, world)
    assert {p.name for p in plan.parks} == {"Billing", "Coding"}
    assert all(p.temporary.startswith(f"{p.name} (agentsctl ") for p in plan.parks)
    # The triage agent hands off to the same two agents, in the same order.
    assert [u.file for u in plan.updates] == ["billing.yaml", "coding.yaml"]


def test_a_new_agent_takes_the_name_of_one_being_renamed(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "billing.yaml", name="Old Billing")
    files = edited(files, "triage.yaml", handoff_targets=["Billing", "Coding"])
    files.append(local("new.yaml", "Billing", handoff_targets=["Old Billing"]))
    plan = plan_of(files, lock, world)
    (create,) = plan.creates
    assert create.targets == (world.agents["Billing"].id,)
    (park,) = plan.parks
    assert park.agent_id == world.agents["Billing"].id
    # The triage agent now hands off to the new Billing: a target created by the plan.
    triage = next(u for u in plan.updates if u.file == "triage.yaml")
    assert triage.targets == (NewAgent("Billing"), world.agents["Coding"].id)


def test_a_change_of_case_needs_no_parking(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "billing.yaml", name="BILLING")
    plan = plan_of(files, lock, world)
    assert not plan.parks
    assert [c.member for c in plan.updates[0].changes] == ["name"]


def test_temporary_names_fit_and_are_free() -> None:
    agent_id = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert temporary_name("Billing", agent_id, []) == "Billing (agentsctl 12345678)"
    long = temporary_name("x" * 255, agent_id, [])
    assert len(long) == 255
    assert long.endswith(" (agentsctl 12345678)")
    assert temporary_name("B", agent_id, ["b (AGENTSCTL 12345678)"]) == (
        "B (agentsctl 12345678123456781234567812345678)"
    )


def test_what_pull_would_lose(world: World) -> None:
    files, lock = world.pulled()
    files = edited(files, "billing.yaml", voice="echo")
    files = [f for f in files if f.file != "coding.yaml"]
    files.append(local("draft.yaml", "Draft"))
    triage = world.agents["Triage"]
    world.agents["Triage"] = ServerAgent(
        id=triage.id,
        version=4,
        config=msgspec.structs.replace(triage.config, model="gpt-4.1"),
        handoff_ids=triage.handoff_ids,
    )
    assert unapplied_changes(files, lock, world.state()) == [
        ("billing.yaml", "changed here: voice"),
        ("draft.yaml", "a new agent, not on the server"),
        ("coding.yaml", "removed here, while 'Coding' is still on the server"),
    ]
    # A file that already matches the server loses nothing, whatever the lock says.
    same = [local("billing.yaml", "Billing", tools=["invoices"])]
    assert unapplied_changes(same, Lock(), world.state()) == []


def test_the_server_read_is_accepted_only_when_its_pages_are_of_one_moment() -> None:
    a_id, b_id, c_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    def public(agent_id: uuid.UUID, name: str, targets: list[uuid.UUID], at: str) -> AgentPublic:
        return msgspec.convert(
            {
                "id": str(agent_id),
                "organization_id": str(ORG),
                "name": name,
                "instructions": "Hi.",
                "model": "m",
                "voice": None,
                "handoff_targets": [str(t) for t in targets],
                "tools": [],
                "modality": "audio_only",
                "panels": [],
                "is_active": True,
                "current_version": 7,
                "created_at": at,
                "updated_at": at,
            },
            AgentPublic,
        )

    a = public(a_id, "A", [b_id], "2026-01-02T00:00:00Z")
    b = public(b_id, "B", [], "2026-01-01T00:00:00Z")
    c = public(c_id, "C", [], "2026-01-03T00:00:00Z")
    # Newest first, two pages of one moment: oldest first, handoffs by name.
    state = combine(ORG, [Page([c, a], total=3), Page([b], total=3, offset=2)])
    assert state is not None
    assert [(s.config.name, s.version, s.config.handoff_targets) for s in state.agents] == [
        ("B", 7, []),
        ("A", 7, ["B"]),
        ("C", 7, []),
    ]
    assert state.agents[1].handoff_ids == (b_id,)
    # An agent created between the pages shifts one into the next page twice...
    assert combine(ORG, [Page([c, a], total=3), Page([a, b], total=4, offset=2)]) is None
    # ... a deletion hides one; a handoff target may be missing from what was read.
    assert combine(ORG, [Page([c, a], total=3), Page([], total=2, offset=2)]) is None
    assert combine(ORG, [Page([c, a], total=2)]) is None


# -- agent files ---------------------------------------------------------------------------------


def test_slugs() -> None:
    assert slug("Triage Agent") == "triage-agent"
    assert slug("  Support_Bot!! v2 ") == "support-bot-v2"
    assert slug("Ünïcödé Agent") == "ünïcödé-agent"
    assert slug("日本語エージェント") == "日本語エージェント"
    assert slug("!!!") == "agent"
    assert len(slug("é" * 300).encode()) <= 100


def test_file_names_never_collide_and_do_not_depend_on_chance() -> None:
    names = ["Support Bot", "support-bot", "Support-Bot-2", "SUPPORT BOT!", "???"]
    assert file_names(names) == [
        "support-bot.yaml",
        "support-bot-3.yaml",
        "support-bot-2.yaml",
        "support-bot-4.yaml",
        "agent.yaml",
    ]
    assert file_names(names) == file_names(list(names))


@pytest.mark.parametrize(
    "instructions",
    [
        "One line.",
        "Two\nlines\n",
        "  Indented first line\nthen not\n",
        "Tabs\tinside\n",
        "Trailing spaces   \nhere",
        "Windows\r\nline breaks\r\n",
        "Blank lines at the end\n\n\n",
        "Unicode: é 日本 \u2028 separator",
        "# not a comment\n- not a list\nkey: not a mapping\n",
        "\nStarts with a line break",
    ],
)
def test_written_files_read_back_exactly(instructions: str) -> None:
    agent = config(
        "yes",  # a name YAML would read as a boolean unless quoted
        instructions=instructions,
        voice="null",
        tools=["1.0", "on"],
        handoff_targets=["~"],
        modality=AgentModality.AUDIO_CAMERA,
        panels=[PanelType.WHITEBOARD],
    )
    text = render_agent(agent)
    assert read_agent_file("a.yaml", text).config == agent
    # PyYAML writes a block whenever the text allows one.
    if not any(c in instructions for c in ("\t", "  \n", "\r", " \u2028")):
        assert "instructions: |" in text


def test_a_written_file_has_exactly_the_export_members_in_a_stable_order() -> None:
    text = render_agent(config("Triage", handoff_targets=["Billing"], instructions="A\nB\n"))
    assert text == (
        "name: Triage\n"
        "model: gpt-4.1-mini\n"
        "voice: null\n"
        "modality: audio_only\n"
        "panels: []\n"
        "tools: []\n"
        "handoff_targets:\n"
        "- Billing\n"
        "instructions: |\n"
        "  A\n"
        "  B\n"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "a.yaml:1: empty file: an agent needs a name and instructions"),
        ("- a\n- b\n", "a.yaml:1: an agent file is a mapping of members"),
        ("name: A\n---\nname: B\n", "a.yaml:2: YAML syntax error"),
        ("name: A\ninstructions: !!python/name:os.system x\n", "a.yaml:2: YAML syntax error"),
        (
            "name: A\ninstructions: Hi.\nhandoff_targets:\n- B\n- b\n",
            "a.yaml:5: handoff_targets[1]: duplicate value b",
        ),
        ("name: 2024-01-01\ninstructions: Hi.\n", "a.yaml:1: name: Expected `str`, got `date`"),
        ("name: '  '\ninstructions: Hi.\n", "a.yaml:1: name: must not be blank"),
        ("name: A\ninstructions: Hi.\ntools: a\n", "a.yaml:3: tools: Expected `array | null`"),
    ],
)
def test_reading_a_bad_file_names_the_line(text: str, expected: str) -> None:
    with pytest.raises(AgentFileError) as caught:
        read_agent_file("a.yaml", text)
    assert str(caught.value.problem).startswith(expected)


def test_the_readme_example_file_is_what_pull_writes() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    section = readme.split("## Configuration as code", 1)[1]
    example = re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)[0]
    agent = read_agent_file("README.md", example)
    assert render_agent(agent.config) == example


def test_agentsctl_needs_nothing_but_the_sdk() -> None:
    code = (
        "import sys, agents_client.ctl.cli\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sqlalchemy', 'asyncpg', 'aiosqlite', 'alembic', 'litestar', 'agents_api'})\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
