"""``agentsctl release create``, ``deploy``, ``promote``, ``rollback`` and ``status`` against the
real app and database: through the entry point with the SDK on the app's ``TestClient``, and as
the installed executable against a real server process."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from agents_client import (
    AgentCreate,
    AgentExport,
    AgentsClient,
    AgentUpdate,
    ApiKeyCreate,
    Canary,
    Environment,
    EnvironmentPut,
    Role,
)
from agents_client.ctl.cli import main
from tests.client.conftest import signup_body
from tests.client.test_agentsctl import Org, Run, new_org, seed
from tests.conftest import SECRET
from tests.live_server import free_port, start, stop


@pytest.fixture
def org(sync_app: TestClient[Litestar]) -> Org:
    return new_org(sync_app)


def members(org: Org, number: int) -> list[tuple[str, int]]:
    return [(m.name, m.version) for m in org.sdk.releases.get(number).agents]


def release_count(org: Org) -> int:
    return org.sdk.releases.list(limit=1).total


def when(environment: Environment) -> str:
    return environment.updated_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# -- release create --------------------------------------------------------------------------------


def test_release_create_releases_every_agent_or_the_named_ones_with_their_handoffs(
    org: Org,
) -> None:
    agents = seed(org)  # Triage → Billing, Coding; Coding → Triage (Coding is at version 2)
    org.sdk.agents.create(AgentCreate(name="Night Shift", instructions="Hi."))

    every = org.ctl("release", "create", "-m", "first cut")
    assert every.code == 0, every.err
    assert every.out.splitlines() == [
        'Created release 1 with 4 agents: "first cut"',
        "    Billing Expert  version 1",
        "    Coding Expert   version 2",
        "    Night Shift     version 1",
        "    Triage Agent    version 1",
    ]
    assert members(org, 1) == [
        ("Billing Expert", 1),
        ("Coding Expert", 2),
        ("Night Shift", 1),
        ("Triage Agent", 1),
    ]
    assert org.sdk.releases.get(1).message == "first cut"

    # Names compare ignoring case; Coding hands off to Triage, which hands off to Billing.
    named = org.ctl("release", "create", "--agent", "coding EXPERT")
    assert named.code == 0, named.err
    assert named.out.splitlines() == [
        "Created release 2 with 3 agents",
        "    Billing Expert  version 1  (through handoffs)",
        "    Coding Expert   version 2",
        "    Triage Agent    version 1  (through handoffs)",
    ]
    assert members(org, 2) == [("Billing Expert", 1), ("Coding Expert", 2), ("Triage Agent", 1)]

    # Billing hands off to nobody; a name given twice (in any case) is one agent.
    org.sdk.agents.update(agents["billing"].id, AgentUpdate(voice="verse"))
    alone = org.ctl(
        "release", "create", "--agent", "Billing Expert", "billing expert", "--agent", "Night Shift"
    )
    assert alone.code == 0, alone.err
    assert members(org, 3) == [("Billing Expert", 2), ("Night Shift", 1)]
    assert org.sdk.releases.get(3).message is None

    as_json = org.ctl("release", "create", "--agent", "Night Shift", "--json", "-m", "ci")
    assert as_json.code == 0, as_json.err
    document = json.loads(as_json.out)
    assert (document["number"], document["message"]) == (4, "ci")
    assert [(m["name"], m["version"]) for m in document["agents"]] == [("Night Shift", 1)]


def test_an_unknown_name_is_refused_before_anything_is_released(org: Org) -> None:
    seed(org)
    run = org.ctl("release", "create", "--agent", "Biling Expert", "--agent", "Triage Agent")
    assert run.code == 1
    assert run.err == (
        "agentsctl: no active agent named 'Biling Expert' (did you mean 'Billing Expert'?): "
        "check the spelling (agentsctl pull writes a file for every agent); nothing was released\n"
    )
    several = org.ctl("release", "create", "--agent", "Nobody", "Somebody Else")
    assert several.code == 1
    assert "no active agents named 'Nobody', 'Somebody Else': check the spelling" in several.err
    assert several.err.count("\n") == 1
    assert release_count(org) == 0


def test_an_agent_deleted_while_the_release_is_made_is_named(org: Org) -> None:
    agents = seed(org)
    night = org.sdk.agents.create(AgentCreate(name="Night Shift", instructions="Hi."))

    def delete_night_shift(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/api/v1/releases":
            org.http.event_hooks = {"request": [], "response": []}
            with AgentsClient(
                str(org.http.base_url), api_key=org.key, http_client=org.http
            ) as other:
                other.agents.delete(night.id)

    org.http.event_hooks = {"request": [delete_night_shift], "response": []}
    try:
        run = org.ctl("release", "create", "--agent", "Billing Expert", "--agent", "Night Shift")
    finally:
        org.http.event_hooks = {"request": [], "response": []}
    assert run.code == 1
    assert run.err == (
        "agentsctl: 'Night Shift' is no longer an active agent (deleted meanwhile): check the "
        "names and run again; nothing was released\n"
    )
    assert release_count(org) == 0
    assert agents["billing"].id in {a.id for a in org.sdk.agents.iterate()}


def test_release_create_in_an_empty_organization(org: Org) -> None:
    run = org.ctl("release", "create")
    assert run.code == 1
    assert run.err == (
        "agentsctl: the organization has no active agent to release: create agents first "
        "(agentsctl apply DIR)\n"
    )


def test_release_create_from_a_directory(org: Org, tmp_path: Path) -> None:
    seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0
    # An agent only on the server: not in the directory, so not in its release.
    org.sdk.agents.create(AgentCreate(name="Night Shift", instructions="Hi."))

    released = org.ctl("release", "create", "--dir", directory, "-m", "from git")
    assert released.code == 0, released.err
    assert members(org, 1) == [("Billing Expert", 1), ("Coding Expert", 2), ("Triage Agent", 1)]
    assert "(through handoffs)" not in released.out

    # A file changed and not applied: the server's version is not the file's, so no release.
    billing = directory / "billing-expert.yaml"
    billing.write_text(billing.read_text().replace("Answer billing", "Answer all billing"))
    refused = org.ctl("release", "create", "--dir", directory)
    assert refused.code == 1
    assert refused.err == (
        f"agentsctl: {directory} does not match the server (1 to update): agentsctl apply "
        f"{directory} first (agentsctl diff {directory} shows the plan); nothing was released\n"
    )
    assert release_count(org) == 1
    assert org.ctl("apply", directory, "--yes").code == 0
    again = org.ctl("release", "create", "--dir", directory)
    assert again.code == 0, again.err
    assert members(org, 2) == [("Billing Expert", 2), ("Coding Expert", 2), ("Triage Agent", 1)]

    both = org.ctl("release", "create", "--dir", directory, "--agent", "Night Shift")
    assert both.code == 1
    assert "--agent and --dir were both given: pass one" in both.err
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = org.ctl("release", "create", "--dir", empty)
    assert nothing.code == 1
    assert f"{empty} holds no agent files: agentsctl pull {empty} writes them" in nothing.err
    assert release_count(org) == 2


def test_a_release_from_a_directory_that_changed_meanwhile_says_not_to_deploy_it(
    org: Org, tmp_path: Path
) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0

    def edit_billing(request: httpx.Request) -> None:
        # Someone edits an agent between the check of the files and the release.
        if request.method == "POST" and request.url.path == "/api/v1/releases":
            org.http.event_hooks = {"request": [], "response": []}
            with AgentsClient(
                str(org.http.base_url), api_key=org.key, http_client=org.http
            ) as other:
                other.agents.update(agents["billing"].id, AgentUpdate(voice="sage"))

    org.http.event_hooks = {"request": [edit_billing], "response": []}
    try:
        run = org.ctl("release", "create", "--dir", directory)
    finally:
        org.http.event_hooks = {"request": [], "response": []}
    assert run.code == 1
    assert "Created release 1 with 3 agents" in run.out
    assert run.err == (
        f"agentsctl: release 1 does not match {directory}: 'Billing Expert' (version 1 → 2) "
        f"changed on the server while it was made; do not deploy it (agentsctl diff {directory} "
        "shows the change)\n"
    )


def test_release_create_checks_its_message(org: Org) -> None:
    seed(org)
    long = org.ctl("release", "create", "-m", "x" * 1001)
    assert long.code == 1
    assert long.err == (
        "agentsctl: the message has 1001 characters: a release's message has at most 1000\n"
    )
    assert release_count(org) == 0


# -- deploy, promote, rollback ---------------------------------------------------------------------


def releases(org: Org, count: int) -> None:
    for _ in range(count):
        org.sdk.releases.create()


def test_deploy_with_and_without_a_canary(org: Org) -> None:
    seed(org)
    releases(org, 3)

    created = org.ctl("deploy", "staging", "1")
    assert created.code == 0, created.err
    assert created.out == "Created staging: serves release 1 (revision 1).\n"
    same = org.ctl("deploy", "staging", "1")
    assert same.code == 0, same.err
    assert same.out == "Nothing changed: staging already serves release 1 (revision 1).\n"

    canary = org.ctl("deploy", "staging", "2", "--canary", "3", "--weight", "10")
    assert canary.code == 0, canary.err
    assert canary.out == (
        "staging now serves release 2, canary release 3 on 10% of calls (revision 2; before: "
        "release 1).\n"
    )
    staging = org.sdk.environments.get("staging")
    assert (staging.release, staging.canary, staging.revision) == (2, Canary(3, 10), 2)

    cleared = org.ctl("deploy", "staging", "2", "--json")
    assert cleared.code == 0, cleared.err
    document = json.loads(cleared.out)
    assert document["changed"] is True
    assert document["previous"]["canary"] == {"release": 3, "weight": 10}
    assert (document["environment"]["release"], document["environment"]["canary"]) == (2, None)
    assert document["environment"]["revision"] == 3
    unchanged = json.loads(org.ctl("deploy", "staging", "2", "--json").out)
    assert unchanged["changed"] is False
    assert unchanged["environment"]["revision"] == 3
    assert [m.revision for m in org.sdk.environments.iter_history("staging")] == [3, 2, 1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--weight", "10"],
            "--weight is the canary's share of calls: pass it with --canary RELEASE (or leave "
            "both out to serve RELEASE to every call)",
        ),
        (
            ["--canary", "2"],
            "--canary 2 needs --weight N: the percent of calls (1 to 99) it serves",
        ),
        (
            ["--canary", "2", "--weight", "100"],
            "--weight 100: a canary serves 1 to 99 percent of calls (to serve it to every call, "
            "deploy it: agentsctl deploy staging 2)",
        ),
        (
            ["--canary", "2", "--weight", "0"],
            "--weight 0: a canary serves 1 to 99 percent of calls",
        ),
    ],
)
def test_a_bad_canary_is_refused_before_anything_is_sent(
    org: Org, argv: list[str], message: str
) -> None:
    seed(org)
    releases(org, 2)
    org.sdk.environments.put("staging", EnvironmentPut(release=1))
    run = org.ctl("deploy", "staging", "1", *argv)
    assert run.code == 1
    assert run.err.startswith(f"agentsctl: {message}")
    assert run.err.count("\n") == 1
    assert org.sdk.environments.get("staging").revision == 1


def test_deploy_of_a_release_that_does_not_exist(org: Org) -> None:
    seed(org)
    releases(org, 2)
    run = org.ctl("deploy", "production", "7")
    assert run.code == 1
    assert run.err == (
        "agentsctl: release 7 does not exist (the latest is release 2): pick an existing "
        "release, or make one with agentsctl release create; nothing was deployed\n"
    )
    canary = org.ctl("deploy", "production", "2", "--canary", "9", "--weight", "5")
    assert canary.code == 1
    assert "agentsctl: canary release 9 does not exist (the latest is release 2)" in canary.err
    assert org.sdk.environments.list() == []

    bad_name = org.ctl("deploy", "Prod", "1")
    assert bad_name.code == 1
    assert bad_name.err == (
        "agentsctl: 'Prod' is not an environment name: use lower-case letters, digits, '-' and "
        "'_', starting with a letter or digit, at most 63 characters (e.g. production)\n"
    )


def test_promote(org: Org) -> None:
    seed(org)
    releases(org, 3)
    org.sdk.environments.put("staging", EnvironmentPut(release=3, canary=Canary(2, 30)))

    created = org.ctl("promote", "staging", "production")
    assert created.code == 0, created.err
    assert created.out == "Created production: serves release 3 (revision 1).\n"
    production = org.sdk.environments.get("production")
    assert (production.release, production.canary) == (3, None)

    org.sdk.environments.put("staging", EnvironmentPut(release=1))
    moved = org.ctl("promote", "staging", "production")
    assert moved.code == 0, moved.err
    assert moved.out == "production now serves release 1 (revision 2; before: release 3).\n"
    again = org.ctl("promote", "staging", "production")
    assert again.out == "Nothing changed: production already serves release 1 (revision 2).\n"

    unknown = org.ctl("promote", "qa", "production")
    assert unknown.code == 1
    assert unknown.err == (
        "agentsctl: there is no environment named 'qa' to promote from: agentsctl status lists "
        "them\n"
    )
    assert org.sdk.environments.get("production").revision == 2


def test_rollback_toggles_and_goes_back_to_a_release_served(org: Org) -> None:
    seed(org)
    releases(org, 3)
    org.sdk.environments.put("production", EnvironmentPut(release=1))

    nothing = org.ctl("rollback", "production")
    assert nothing.code == 1
    assert nothing.err == (
        "agentsctl: production has served no release but release 1: nothing to roll back to "
        "(agentsctl deploy production RELEASE moves it)\n"
    )

    org.sdk.environments.put("production", EnvironmentPut(release=2, canary=Canary(3, 5)))
    back = org.ctl("rollback", "production")
    assert back.code == 0, back.err
    assert back.out == (
        "production now serves release 1 (revision 3; before: release 2, canary release 3 on 5% "
        "of calls).\n"
    )
    forth = org.ctl("rollback", "production")
    assert forth.out == "production now serves release 2 (revision 4; before: release 1).\n"
    assert org.sdk.environments.get("production").canary is None

    never = org.ctl("rollback", "production", "--release", "3")
    assert never.code == 1
    assert never.err == (
        "agentsctl: production never served release 3: roll back to one it served (1, 2), or "
        "agentsctl deploy production 3\n"
    )
    chosen = org.ctl("rollback", "production", "--release", "1", "--json")
    assert chosen.code == 0, chosen.err
    document = json.loads(chosen.out)
    assert (document["changed"], document["environment"]["release"]) == (True, 1)

    missing = org.ctl("rollback", "qa")
    assert missing.code == 1
    assert (
        missing.err
        == "agentsctl: there is no environment named 'qa': agentsctl status lists them\n"
    )


# -- status ----------------------------------------------------------------------------------------


def test_status_shows_every_environment(org: Org) -> None:
    empty = org.ctl("status")
    assert empty.code == 0, empty.err
    assert empty.out == "No environments yet: agentsctl deploy ENV RELEASE creates one.\n"

    seed(org)
    releases(org, 12)
    org.sdk.environments.put("staging", EnvironmentPut(release=12, canary=Canary(11, 25)))
    org.sdk.environments.put("production", EnvironmentPut(release=9))
    org.sdk.environments.put("production", EnvironmentPut(release=10))
    staging, production = (org.sdk.environments.get(n) for n in ("staging", "production"))

    table = org.ctl("status")
    assert table.code == 0, table.err
    assert table.out.splitlines() == [
        "ENVIRONMENT  RELEASE  CANARY    REVISION  UPDATED",
        f"production   10       -         2         {when(production)}",
        f"staging      12       11 (25%)  1         {when(staging)}",
    ]

    as_json = org.ctl("status", "--json")
    assert as_json.code == 0, as_json.err
    listed = json.loads(as_json.out)["environments"]
    assert [(e["name"], e["release"], e["canary"], e["revision"]) for e in listed] == [
        ("production", 10, None, 2),
        ("staging", 12, {"release": 11, "weight": 25}, 1),
    ]


def test_status_compares_a_directory_with_what_an_environment_serves(
    org: Org, tmp_path: Path
) -> None:
    agents = seed(org)
    directory = tmp_path / "agents"
    assert org.ctl("pull", directory).code == 0

    no_production = org.ctl("status", directory)
    assert no_production.code == 1
    assert no_production.err == (
        f"agentsctl: there is no environment named 'production' to compare {directory} with: "
        "agentsctl deploy production RELEASE creates it (or pass --env)\n"
    )

    org.sdk.releases.create()
    org.sdk.environments.put("production", EnvironmentPut(release=1))
    matches = org.ctl("status", directory)
    assert matches.code == 0, matches.err
    assert matches.out.splitlines()[-1] == (
        f"{directory} matches what production serves: release 1, 3 agents."
    )

    # After the release: an agent edited (and pulled), one renamed on disk, one new file, one
    # member's file removed.
    org.sdk.agents.update(agents["coding"].id, AgentUpdate(voice="verse", tools=["editor"]))
    assert org.ctl("pull", directory).code == 0
    (directory / "triage-agent.yaml").rename(directory / "front-desk.yaml")
    (directory / "billing-expert.yaml").unlink()
    (directory / "new.yaml").write_text("name: New Agent\ninstructions: Hi.\n")
    differs = org.ctl("status", directory)
    assert differs.code == 2, differs.err
    assert differs.out.splitlines()[-4:] == [
        f"{directory} differs from what production serves, release 1:",
        "    ~ coding-expert.yaml: 'Coding Expert' differs from release 1 (version 2) in: voice, "
        "tools",
        "    + new.yaml: 'New Agent' is not in release 1",
        "    - 'Billing Expert' (version 1) is in release 1, in no file here",
    ]

    org.sdk.releases.create()  # Billing (still on the server), Coding at version 3, Triage
    org.sdk.environments.put("staging", EnvironmentPut(release=2, canary=Canary(1, 50)))
    staged = org.ctl("status", directory, "--env", "staging", "--json")
    assert staged.code == 2, staged.err
    compared = json.loads(staged.out)["directory"]
    assert (compared["environment"], compared["release"], compared["matches"]) == (
        "staging",
        2,
        False,
    )
    assert compared["differences"] == [
        {
            "kind": "not_released",
            "name": "New Agent",
            "file": "new.yaml",
            "version": None,
            "members": [],
        },
        {
            "kind": "no_file",
            "name": "Billing Expert",
            "file": None,
            "version": 1,
            "members": [],
        },
    ]

    lonely = org.ctl("status", "--env", "staging")
    assert lonely.code == 1
    assert (
        lonely.err == "agentsctl: --env names the environment to compare DIR with: pass DIR too\n"
    )


# -- help, credentials -----------------------------------------------------------------------------

NEW_COMMANDS = (
    ("release",),
    ("release", "create"),
    ("deploy",),
    ("promote",),
    ("rollback",),
    ("status",),
)


def test_help_on_every_new_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    overview = capsys.readouterr().out
    for name in ("release", "deploy", "promote", "rollback", "status"):
        assert f"    {name} " in overview
    for command in NEW_COMMANDS:
        assert main([*command, "--help"]) == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: agentsctl {' '.join(command)} ")
        if command != ("release",):
            assert "--json" in out
            assert "--api-key" in out


WRITES = (
    ("release", "create"),
    ("deploy", "staging", "1"),
    ("promote", "staging", "production"),
    ("rollback", "staging"),
)


def test_a_refused_credential_is_one_line_naming_the_fix(org: Org) -> None:
    for command in (*WRITES, ("status",)):
        out, err = io.StringIO(), io.StringIO()
        code = main(
            list(command),
            http_client=org.http,
            stdout=out,
            stderr=err,
            environ={"AGENTS_URL": str(org.http.base_url), "AGENTS_API_KEY": "agk_wrong"},
        )
        assert code == 1, command
        assert err.getvalue().count("\n") == 1, command
        assert err.getvalue().startswith(f"agentsctl: {org.http.base_url} refused the credentials")
        assert err.getvalue().rstrip().endswith("check AGENTS_API_KEY"), command
        assert out.getvalue() == ""


def test_a_members_key_reads_the_status_but_moves_nothing(org: Org) -> None:
    seed(org)
    releases(org, 1)
    org.sdk.environments.put("staging", EnvironmentPut(release=1))
    member = org.sdk.api_keys.create(ApiKeyCreate(name="reader", role=Role.MEMBER)).key
    environ = {"AGENTS_URL": str(org.http.base_url), "AGENTS_API_KEY": member}

    def ctl(*argv: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = main(argv, http_client=org.http, stdout=out, stderr=err, environ=environ)
        return Run(code, out.getvalue(), err.getvalue())

    assert ctl("status").code == 0
    for command in WRITES:
        run = ctl(*command)
        assert run.code == 1, command
        assert run.err.startswith("agentsctl: this credential may not do that (403"), command
        assert run.err.rstrip().endswith("use an admin's API key or token"), command
    assert release_count(org) == 1
    assert [e.name for e in org.sdk.environments.list()] == ["staging"]
    assert org.sdk.environments.get("staging").revision == 1


# -- the installed executable against a server process ---------------------------------------------


@pytest.fixture
def server(pg_url: str) -> Iterator[str]:
    port = free_port()
    process = start(
        [sys.executable, "-m", "agents_api.serve", "--port", str(port), "--no-access-log"],
        port=port,
        env={
            "AGENTS_DATABASE_URL": pg_url,
            "AGENTS_SECRET_KEY": SECRET,
            "AGENTS_MIGRATE_ON_START": "false",
        },
    )
    yield f"http://127.0.0.1:{port}"
    stop(process)


def test_the_executable_releases_deploys_and_shows_the_status(server: str) -> None:
    executable = Path(sys.executable).parent / "agentsctl"
    with AgentsClient(server) as admin:
        admin.auth.signup(signup_body())
        key = admin.api_keys.create(ApiKeyCreate(name="ci", role=Role.ADMIN)).key
        admin.agents.import_agents(
            [
                AgentExport(name="Triage", instructions="Route.\n", handoff_targets=["Expert"]),
                AgentExport(name="Expert", instructions="Know.\n"),
            ]
        )
    env = {**os.environ, "AGENTS_URL": server, "AGENTS_API_KEY": key}

    def agentsctl(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), *argv], env=env, capture_output=True, text=True, timeout=60
        )

    # As a CI job would: the number from --json, then staging, then production.
    released = agentsctl("release", "create", "-m", "abc123", "--json")
    assert released.returncode == 0, released.stderr
    number = json.loads(released.stdout)["number"]
    assert number == 1
    deployed = agentsctl("deploy", "staging", str(number))
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout == "Created staging: serves release 1 (revision 1).\n"
    promoted = agentsctl("promote", "staging", "production")
    assert promoted.returncode == 0, promoted.stderr
    shown = agentsctl("status")
    assert shown.returncode == 0, shown.stderr
    rows = [line.split()[:4] for line in shown.stdout.splitlines()]
    assert rows == [
        ["ENVIRONMENT", "RELEASE", "CANARY", "REVISION"],
        ["production", "1", "-", "1"],
        ["staging", "1", "-", "1"],
    ]
    refused = agentsctl("deploy", "staging", "5")
    assert refused.returncode == 1
    assert refused.stderr == (
        "agentsctl: release 5 does not exist (the latest is release 1): pick an existing "
        "release, or make one with agentsctl release create; nothing was deployed\n"
    )
    with AgentsClient(server, api_key=key) as client:
        assert [(m.name, m.version) for m in client.releases.get(1).agents] == [
            ("Expert", 1),
            ("Triage", 1),
        ]
        assert client.environments.get("production").release == 1
