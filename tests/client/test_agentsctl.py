"""``agentsctl`` against the real app and database: through its entry point with the SDK on the
app's ``TestClient`` (an ``httpx.Client``), and as the installed executable against a real
server process."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from agents_client import (
    AgentCreate,
    AgentExport,
    AgentModality,
    AgentsClient,
    AgentUpdate,
    ApiKeyCreate,
    PanelType,
    Role,
)
from agents_client.ctl.cli import main
from tests.client.conftest import signup_body
from tests.conftest import SECRET

TRIAGE_INSTRUCTIONS = (
    "Greet the caller warmly.\n"
    "Find out what they need in one or two questions.\n"
    "Hand off to the right expert.\n"
)


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Org:
    """A signed-up organization with an admin API key, and ``agentsctl`` pointed at it."""

    http: TestClient[Litestar]
    key: str
    sdk: AgentsClient

    def ctl(self, *argv: str | Path, stdin: TextIO | None = None) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(
            [str(a) for a in argv],
            http_client=self.http,
            stdin=stdin or io.StringIO(),
            stdout=out,
            stderr=err,
            environ={"AGENTS_URL": str(self.http.base_url), "AGENTS_API_KEY": self.key},
        )
        return Run(code, out.getvalue(), err.getvalue())

    def by_name(self) -> dict[str, Any]:
        return {a.name: a for a in self.sdk.agents.iterate()}

    def exported(self) -> list[dict[str, Any]]:
        items = [
            {
                "name": a.name,
                "instructions": a.instructions,
                "model": a.model,
                "voice": a.voice,
                "modality": a.modality,
                "panels": a.panels,
                "tools": a.tools,
                "handoff_targets": sorted(a.handoff_targets or []),
            }
            for a in self.sdk.agents.export()
        ]
        return sorted(items, key=lambda i: i["name"])


def new_org(http: TestClient[Litestar]) -> Org:
    admin = AgentsClient(str(http.base_url), http_client=http)
    admin.auth.signup(signup_body())
    key = admin.api_keys.create(ApiKeyCreate(name="ci", role=Role.ADMIN)).key
    return Org(http, key, AgentsClient(str(http.base_url), api_key=key, http_client=http))


def seed(org: Org) -> dict[str, Any]:
    """A triage agent handing off to two experts, one of which hands back."""
    billing = org.sdk.agents.create(
        AgentCreate(
            name="Billing Expert", instructions="Answer billing questions.", tools=["invoices"]
        )
    )
    coding = org.sdk.agents.create(
        AgentCreate(
            name="Coding Expert",
            instructions="Help with code.\nShare your screen when useful.\n",
            modality=AgentModality.AUDIO_SCREENSHARE,
            panels=[PanelType.CODING_IDE, PanelType.NOTEPAD],
            voice="alloy",
        )
    )
    triage = org.sdk.agents.create(
        AgentCreate(
            name="Triage Agent",
            instructions=TRIAGE_INSTRUCTIONS,
            handoff_targets=[billing.id, coding.id],
        )
    )
    org.sdk.agents.update(coding.id, AgentUpdate(handoff_targets=[triage.id]))
    return {"billing": billing, "coding": coding, "triage": triage}


@pytest.fixture
def org(sync_app: TestClient[Litestar]) -> Org:
    return new_org(sync_app)


def lock_of(directory: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / "agents.lock").read_text())
    return data


def test_pull_edit_diff_apply(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    pulled = org.ctl("pull", directory)
    assert pulled.code == 0, pulled.err
    assert sorted(p.name for p in directory.iterdir()) == [
        "agents.lock",
        "billing-expert.yaml",
        "coding-expert.yaml",
        "triage-agent.yaml",
    ]
    triage_file = directory / "triage-agent.yaml"
    text = triage_file.read_text()
    # The prompt is a block scalar, one line of the file per line of the prompt.
    assert "instructions: |\n  Greet the caller warmly.\n  Find out what they need" in text
    assert "handoff_targets:\n- Billing Expert\n- Coding Expert\n" in text
    lock = lock_of(directory)
    assert lock["agents"]["triage-agent.yaml"]["id"] == str(agents["triage"].id)
    assert lock["agents"]["coding-expert.yaml"]["version"] == 2

    assert org.ctl("diff", directory).code == 0

    triage_file.write_text(
        text.replace(
            "Find out what they need in one or two questions.", "Ask at most one question."
        ).replace("model: gpt-4.1-mini", "model: gpt-4.1")
    )
    diff = org.ctl("diff", directory)
    assert diff.code == 2, diff.err
    assert "~ update   triage-agent.yaml: 'Triage Agent' (version 1)" in diff.out
    assert 'model: "gpt-4.1-mini" → "gpt-4.1"' in diff.out
    assert "-Find out what they need in one or two questions." in diff.out
    assert "+Ask at most one question." in diff.out
    assert "Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged." in diff.out

    applied = org.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    assert "[1/1] updated 'Triage Agent' (instructions, model) → version 2" in applied.out
    triage = org.sdk.agents.get(agents["triage"].id)
    assert triage.model == "gpt-4.1"
    assert triage.instructions == TRIAGE_INSTRUCTIONS.replace(
        "Find out what they need in one or two questions.", "Ask at most one question."
    )
    assert triage.current_version == 2
    assert lock_of(directory)["agents"]["triage-agent.yaml"]["version"] == 2
    after = org.ctl("diff", directory)
    assert after.code == 0
    assert "In sync" in after.out


def test_a_server_side_edit_after_pull_is_a_conflict(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    lock_before = (directory / "agents.lock").read_bytes()
    billing_file = directory / "billing-expert.yaml"
    billing_file.write_text(
        billing_file.read_text().replace(
            "Answer billing questions.", "Answer billing questions politely."
        )
    )
    org.sdk.agents.update(agents["billing"].id, AgentUpdate(voice="verse", tools=["refunds"]))

    refused = org.ctl("apply", directory, "--yes")
    assert refused.code == 1
    assert (
        "! conflict billing-expert.yaml: 'Billing Expert' changed on the server since it was "
        "pulled (version 1 → 2)" in refused.out
    )
    assert "changed on the server: voice, tools; changed in the file: instructions" in refused.out
    assert "1 conflict: nothing was applied" in refused.err
    billing = org.sdk.agents.get(agents["billing"].id)
    assert (billing.instructions, billing.voice, billing.current_version) == (
        "Answer billing questions.",
        "verse",
        2,
    )
    assert (directory / "agents.lock").read_bytes() == lock_before
    assert org.ctl("diff", directory).code == 2

    # --force writes the file over the server's change.
    forced = org.ctl("apply", directory, "--yes", "--force")
    assert forced.code == 0, forced.err
    billing = org.sdk.agents.get(agents["billing"].id)
    assert (billing.instructions, billing.voice, billing.tools) == (
        "Answer billing questions politely.",
        None,
        ["invoices"],
    )
    assert org.ctl("diff", directory).code == 0


def test_prune_deletes_an_agent_whose_file_was_removed(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0

    # Triage still hands off to Billing: pruning it is refused, naming the file and line.
    (directory / "billing-expert.yaml").unlink()
    without_prune = org.ctl("diff", directory)
    assert without_prune.code == 2
    assert (
        "? removed  billing-expert.yaml: 'Billing Expert' stays on the server" in without_prune.out
    )
    refused = org.ctl("apply", directory, "--prune", "--yes")
    assert refused.code == 1
    triage_file = directory / "triage-agent.yaml"
    line = triage_file.read_text().splitlines().index("- Billing Expert") + 1
    assert (
        f"{triage_file}:{line}: hands off to 'Billing Expert', which has no file here: --prune "
        "would delete it while this agent hands off to it" in refused.err
    )
    assert agents["billing"].id in {a.id for a in org.sdk.agents.iterate()}

    # Once nothing hands off to it, --prune deletes it.
    triage_file.write_text(triage_file.read_text().replace("- Billing Expert\n", ""))
    plan = org.ctl("diff", directory, "--prune")
    assert plan.code == 2
    assert (
        "- delete   'Billing Expert' (version 1; its file billing-expert.yaml was removed)"
        in plan.out
    )
    applied = org.ctl("apply", directory, "--prune", "--yes")
    assert applied.code == 0, applied.err
    assert "[1/2] updated 'Triage Agent' (handoff_targets) → version 2" in applied.out
    assert "[2/2] deleted 'Billing Expert'" in applied.out
    assert sorted(org.by_name()) == ["Coding Expert", "Triage Agent"]
    assert "billing-expert.yaml" not in lock_of(directory)["agents"]
    assert org.ctl("diff", directory, "--prune").code == 0


def test_new_agents_handing_off_to_each_other_apply(org: Org, tmp_path: Path) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "ping.yaml").write_text(
        "name: Ping\nhandoff_targets: [Pong]\ninstructions: |\n  Say ping.\n"
    )
    (directory / "pong.yaml").write_text(
        "name: Pong\nhandoff_targets:\n- ping\ninstructions: Say pong.\n"
    )
    applied = org.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    assert "[1/1] created 2 agents: 'Ping', 'Pong'" in applied.out
    agents = org.by_name()
    assert agents["Ping"].handoff_targets == [agents["Pong"].id]
    assert agents["Pong"].handoff_targets == [agents["Ping"].id]
    assert agents["Ping"].model == "gpt-4.1-mini"  # a member left out takes the API's default
    assert set(lock_of(directory)["agents"]) == {"ping.yaml", "pong.yaml"}
    assert org.ctl("diff", directory).code == 0


def test_prune_deletes_agents_that_hand_off_to_each_other(org: Org, tmp_path: Path) -> None:
    seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    # Coding and Triage hand off to each other (and Triage to Billing): remove those two.
    (directory / "coding-expert.yaml").unlink()
    (directory / "triage-agent.yaml").unlink()
    applied = org.ctl("apply", directory, "--prune", "--yes")
    assert applied.code == 0, applied.err
    assert "[1/3] cleared the handoffs of 'Coding Expert'" in applied.out
    assert "[2/3] deleted 'Triage Agent'" in applied.out
    assert "[3/3] deleted 'Coding Expert'" in applied.out
    assert sorted(org.by_name()) == ["Billing Expert"]
    assert set(lock_of(directory)["agents"]) == {"billing-expert.yaml"}


def test_an_existing_agent_can_hand_off_to_a_new_one(org: Org, tmp_path: Path) -> None:
    seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    (directory / "refunds.yaml").write_text(
        "name: Refunds Expert\nhandoff_targets: [Billing Expert]\ninstructions: Refund.\n"
    )
    billing = directory / "billing-expert.yaml"
    billing.write_text(
        billing.read_text().replace("handoff_targets: []", "handoff_targets: [Refunds Expert]")
    )
    applied = org.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    agents = org.by_name()
    assert agents["Billing Expert"].handoff_targets == [agents["Refunds Expert"].id]
    assert agents["Refunds Expert"].handoff_targets == [agents["Billing Expert"].id]


def test_pull_then_apply_to_an_empty_organization_reproduces_it(
    org: Org, sync_app: TestClient[Litestar], tmp_path: Path
) -> None:
    seed(org)
    org.sdk.agents.create(AgentCreate(name="Night Shift", instructions="Tab\there.  \nTrailing  "))
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0

    other = new_org(sync_app)
    plan = other.ctl("diff", directory)
    assert plan.code == 2
    assert "note: agents.lock belongs to another organization" in plan.out
    applied = other.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    assert other.exported() == org.exported()
    # The lock now describes the organization it was applied to.
    assert lock_of(directory)["organization_id"] == str(other.sdk.auth.me().organization_id)
    assert other.ctl("diff", directory).code == 0


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (
            "name: A\ninstructions: Hi.\ncolour: blue\n",
            3,
            "unknown member 'colour': an agent file has only name, instructions, model, voice, "
            "modality, panels, tools, handoff_targets",
        ),
        (
            "name: A\nmodality: video\ninstructions: Hi.\n",
            2,
            "modality: Invalid enum value 'video' (expected one of audio_only, audio_camera, "
            "audio_screenshare)",
        ),
        (
            "name: A\npanels:\n- notepad\n- easel\ninstructions: Hi.\n",
            4,
            "panels[1]: Invalid enum value 'easel'",
        ),
        (
            "name: A\ninstructions: [Hi.\nmodel: x\n",
            3,
            "YAML syntax error: while parsing a flow sequence: expected",
        ),
        ("name: A\ntools: [a, a]\ninstructions: Hi.\n", 2, "tools[1]: duplicate value a"),
        ("name: A\nvoice: no\ninstructions: Hi.\n", 2, "voice: Expected `str | null`, got `bool`"),
        ("name: A\nname: B\ninstructions: Hi.\n", 2, "member 'name' appears twice"),
        ("name: A\n", 1, "missing member 'instructions'"),
    ],
)
def test_a_bad_file_is_refused_before_anything_is_written(
    org: Org, tmp_path: Path, content: str, line: int, message: str
) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "good.yaml").write_text("name: Good\ninstructions: Fine.\n")
    bad = directory / "bad.yaml"
    bad.write_text(content)
    for command in (("diff",), ("apply", "--yes")):
        run = org.ctl(*command, directory)
        assert run.code == 1
        assert f"{bad}:{line}: {message}" in run.err
        assert "1 agent file cannot be read: fix them; nothing was written" in run.err
    assert org.by_name() == {}
    assert not (directory / "agents.lock").exists()


def test_handoff_to_a_name_nowhere_is_refused(org: Org, tmp_path: Path) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "a.yaml").write_text("name: A\nhandoff_targets:\n- Nobody\ninstructions: Hi.\n")
    run = org.ctl("apply", directory, "--yes")
    assert run.code == 1
    assert (
        f"{directory / 'a.yaml'}:3: hands off to 'Nobody': no file here and no agent on the "
        "server has that name" in run.err
    )
    assert org.by_name() == {}


def test_pull_refuses_to_overwrite_changes_not_yet_applied(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    coding = directory / "coding-expert.yaml"
    coding.write_text(coding.read_text().replace("voice: alloy", "voice: echo"))
    (directory / "draft.yaml").write_text("name: Draft\ninstructions: Not yet.\n")
    # A change on the server alone is no reason to refuse: the file is as pulled.
    org.sdk.agents.update(agents["billing"].id, AgentUpdate(model="gpt-4.1"))

    refused = org.ctl("pull", directory)
    assert refused.code == 1
    assert f"{coding}: changed here: voice" in refused.err
    assert f"{directory / 'draft.yaml'}: a new agent, not on the server" in refused.err
    assert "pull would overwrite 2 changes not yet applied" in refused.err
    assert "voice: echo" in coding.read_text()

    forced = org.ctl("pull", directory, "--force")
    assert forced.code == 0, forced.err
    assert "voice: alloy" in coding.read_text()
    assert not (directory / "draft.yaml").exists()
    assert "model: gpt-4.1\n" in (directory / "billing-expert.yaml").read_text()
    assert org.ctl("diff", directory).code == 0


def test_pull_takes_server_changes_into_untouched_files(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    org.sdk.agents.update(agents["billing"].id, AgentUpdate(name="Billing"))
    org.sdk.agents.delete(agents["triage"].id, force=True)
    pulled = org.ctl("pull", directory)
    assert pulled.code == 0, pulled.err
    assert sorted(p.name for p in directory.glob("*.yaml")) == [
        "billing.yaml",
        "coding-expert.yaml",
    ]
    assert lock_of(directory)["agents"]["billing.yaml"]["id"] == str(agents["billing"].id)


def test_renaming_an_agent_in_its_file(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    billing = directory / "billing-expert.yaml"
    billing.write_text(billing.read_text().replace("name: Billing Expert", "name: Payments"))
    triage = directory / "triage-agent.yaml"
    triage.write_text(triage.read_text().replace("- Billing Expert", "- Payments"))
    plan = org.ctl("diff", directory)
    assert 'name: "Billing Expert" → "Payments"' in plan.out
    # The triage agent still hands off to the same agent: its handoffs are unchanged.
    assert "1 to update" in plan.out
    applied = org.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    renamed = org.sdk.agents.get(agents["billing"].id)
    assert renamed.name == "Payments"
    assert org.sdk.agents.get(agents["triage"].id).current_version == 1
    assert org.ctl("diff", directory).code == 0


def test_two_agents_swap_names(org: Org, tmp_path: Path) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    billing, coding = directory / "billing-expert.yaml", directory / "coding-expert.yaml"
    billing.write_text(billing.read_text().replace("name: Billing Expert", "name: Coding Expert"))
    coding.write_text(coding.read_text().replace("name: Coding Expert", "name: Billing Expert"))
    applied = org.ctl("apply", directory, "--yes")
    assert applied.code == 0, applied.err
    assert "parked 'Billing Expert'" in applied.out
    assert org.sdk.agents.get(agents["billing"].id).name == "Coding Expert"
    assert org.sdk.agents.get(agents["coding"].id).name == "Billing Expert"
    assert org.ctl("diff", directory).code == 0


def test_a_failure_midway_says_what_was_applied_and_keeps_the_lock_true(
    org: Org, tmp_path: Path
) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    for file in ("billing-expert.yaml", "triage-agent.yaml"):
        path = directory / file
        path.write_text(path.read_text().replace("model: gpt-4.1-mini", "model: gpt-4.1"))
    triage_id = agents["triage"].id

    def edit_triage_first(request: httpx.Request) -> None:
        # Someone edits the triage agent between the plan and its update.
        if request.method == "PUT" and request.url.path.endswith(str(triage_id)):
            org.http.event_hooks = {"request": [], "response": []}
            with AgentsClient(
                str(org.http.base_url), api_key=org.key, http_client=org.http
            ) as other:
                other.agents.update(triage_id, AgentUpdate(voice="sage"))

    org.http.event_hooks = {"request": [edit_triage_first], "response": []}
    try:
        run = org.ctl("apply", directory, "--yes")
    finally:
        org.http.event_hooks = {"request": [], "response": []}
    assert run.code == 1
    assert "[1/2] updated 'Billing Expert' (model) → version 2" in run.out
    assert "Applied:\n    updated 'Billing Expert' (model) → version 2" in run.err
    assert "Not applied:\n    update 'Triage Agent' (model)" in run.err
    assert (
        "step 2 of 2 (update 'Triage Agent' (model)) failed: 'Triage Agent' changed on the "
        "server during the apply" in run.err
    )
    lock = lock_of(directory)["agents"]
    assert lock["billing-expert.yaml"]["version"] == 2
    assert lock["triage-agent.yaml"]["version"] == 1
    # The lock is true to the server: billing is in sync, triage is a conflict.
    diff = org.ctl("diff", directory)
    assert diff.code == 2
    assert "! conflict triage-agent.yaml: 'Triage Agent' changed on the server" in diff.out
    assert "billing-expert.yaml" not in diff.out
    assert "Plan: 0 to create, 0 to update, 0 to delete, 1 conflict, 2 unchanged." in diff.out


def test_apply_asks_and_refuses_to_ask_without_a_terminal(org: Org, tmp_path: Path) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "a.yaml").write_text("name: A\ninstructions: Hi.\n")
    run = org.ctl("apply", directory)
    assert run.code == 1
    assert "there is no terminal to ask on: pass --yes" in run.err
    dry = org.ctl("apply", directory, "--dry-run")
    assert dry.code == 0
    assert "+ create   a.yaml: 'A'" in dry.out
    assert "Dry run: nothing was written." in dry.out
    assert org.by_name() == {}
    assert not (directory / "agents.lock").exists()


def test_apply_asks_on_a_terminal(org: Org, tmp_path: Path) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "a.yaml").write_text("name: A\ninstructions: Hi.\n")
    for answer, code in (("n", 1), ("yes", 0)):
        main_end, terminal_end = os.openpty()
        os.write(main_end, f"{answer}\n".encode())
        with os.fdopen(terminal_end, "r") as terminal:
            run = org.ctl("apply", directory, stdin=terminal)
        os.close(main_end)
        assert run.code == code, run.err
        assert f"Apply this plan to {org.http.base_url}? [y/N] " in run.out
        if answer == "n":
            assert "apply cancelled: nothing was written" in run.err
            assert org.by_name() == {}
    assert sorted(org.by_name()) == ["A"]


def test_a_lock_that_is_not_one_is_named(org: Org, tmp_path: Path) -> None:
    seed(org)
    directory = tmp_path / "agents"
    directory.mkdir()
    (directory / "agents.lock").write_text("{not json")
    run = org.ctl("diff", directory)
    assert run.code == 1
    assert f"agentsctl: {directory / 'agents.lock'}: not a lock written by agentsctl" in run.err
    assert org.ctl("pull", directory).code == 1
    assert org.ctl("pull", directory, "--force").code == 0
    assert org.ctl("diff", directory).code == 0


def test_errors_are_one_line_with_the_fix(org: Org, tmp_path: Path) -> None:
    directory = tmp_path / "agents"
    directory.mkdir()
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["diff", str(directory)],
        http_client=org.http,
        stdout=out,
        stderr=err,
        environ={"AGENTS_URL": str(org.http.base_url), "AGENTS_API_KEY": "agk_wrong"},
    )
    assert code == 1
    assert err.getvalue().count("\n") == 1
    assert "refused the credentials (401" in err.getvalue()
    assert err.getvalue().rstrip().endswith("check AGENTS_API_KEY")

    err = io.StringIO()
    assert main(["diff", str(directory)], stderr=err, environ={"AGENTS_API_KEY": "x"}) == 1
    assert err.getvalue() == (
        "agentsctl: no server given: set AGENTS_URL (or pass --url), e.g. "
        "https://agents.example.com\n"
    )


def test_a_members_key_reads_but_does_not_write(org: Org, tmp_path: Path) -> None:
    seed(org)
    member = org.sdk.api_keys.create(ApiKeyCreate(name="reader", role=Role.MEMBER)).key
    directory = tmp_path / "agents"
    environ = {"AGENTS_URL": str(org.http.base_url), "AGENTS_API_KEY": member}

    def ctl(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(argv, http_client=org.http, stdout=out, stderr=err, environ=environ)
        return Run(code, out.getvalue(), err.getvalue())

    assert ctl("pull", str(directory)).code == 0
    assert ctl("diff", str(directory)).code == 0
    (directory / "new.yaml").write_text("name: New\ninstructions: Hi.\n")
    assert ctl("diff", str(directory)).code == 2
    assert ctl("apply", str(directory), "--dry-run").code == 0
    refused = ctl("apply", str(directory), "--yes")
    assert refused.code == 1
    assert refused.err == (
        "agentsctl: this credential is a member's: applying needs an admin's API key or token "
        "(a member's is enough for pull and diff); nothing was written\n"
    )
    assert "New" not in org.by_name()


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("agentsctl 0.")
    for command in ((), ("pull",), ("diff",), ("apply",)):
        assert main([*command, "--help"]) == 0
        assert "usage: agentsctl" in capsys.readouterr().out


# -- the installed executable against a server process -------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(pg_url: str) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
        env={
            **os.environ,
            "AGENTS_DATABASE_URL": pg_url,
            "AGENTS_SECRET_KEY": SECRET,
            "AGENTS_MIGRATE_ON_START": "false",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise AssertionError(f"the server exited: {output}")
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)
        yield base
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_agentsctl_executable(server: str, tmp_path: Path) -> None:
    executable = Path(sys.executable).parent / "agentsctl"
    with AgentsClient(server) as admin:
        admin.auth.signup(signup_body())
        key = admin.api_keys.create(ApiKeyCreate(name="ci", role=Role.ADMIN)).key
        admin.agents.import_agents(
            [
                AgentExport(
                    name="Triage", instructions="Route calls.\n", handoff_targets=["Expert"]
                ),
                AgentExport(name="Expert", instructions="Know things.\n"),
            ]
        )
    env = {**os.environ, "AGENTS_URL": server, "AGENTS_API_KEY": key}
    directory = tmp_path / "agents"

    def agentsctl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *argv], env=env, capture_output=True, text=True, timeout=60
        )

    assert agentsctl("--version").stdout.startswith("agentsctl ")
    pulled = agentsctl("pull", str(directory))
    assert pulled.returncode == 0, pulled.stderr
    expert = directory / "expert.yaml"
    expert.write_text(expert.read_text().replace("Know things.", "Know everything."))
    diff = agentsctl("diff", str(directory))
    assert diff.returncode == 2, diff.stderr
    assert "+Know everything." in diff.stdout
    applied = agentsctl("apply", str(directory), "--yes")
    assert applied.returncode == 0, applied.stderr
    assert agentsctl("diff", str(directory)).returncode == 0
    with AgentsClient(server, api_key=key) as client:
        assert {a.name: a.instructions for a in client.agents.iterate()}["Expert"] == (
            "Know everything.\n"
        )
    refused = agentsctl("apply", str(directory))  # no terminal, no --yes
    assert refused.returncode == 0  # nothing to apply, so nothing to ask
    unreachable = subprocess.run(
        [str(executable), "diff", str(directory)],
        env={**env, "AGENTS_URL": f"http://127.0.0.1:{free_port()}"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert unreachable.returncode == 1
    assert "cannot reach http://127.0.0.1:" in unreachable.stderr
    assert "check AGENTS_URL and that the server is running" in unreachable.stderr
