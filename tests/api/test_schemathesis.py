"""The OpenAPI document is the truth: schemathesis against the in-process app, as an admin.

Every operation of the app's own document, with every check but ``ignored_auth`` (the
operations are called with an admin's token; that check would call them without it and expect
401 from a server that has just been sent a valid one), over its examples, the coverage phase
(boundaries, unexpected methods, missing and unknown members) and a bounded number of generated
cases. Any failure fails the test with schemathesis' report of it.

The app runs in schemathesis' own event loop, so it gets a database pool of its own; the admin
and its organization are made beforehand through the core services.

One check is narrowed: ``positive_data_acceptance`` expects a request the document allows to be
accepted, but some refusals depend on the state, not on the request's shape, and no schema can
say them: a handoff target that is not an active agent of the organization (400
``invalid_handoff_targets``), an ``If-Match`` that is not the agent's current version (412
``version_mismatch``), a cursor the feed never returned (400 ``invalid_cursor``: cursors are
opaque); for releases and environments, agents that are not active (``invalid_agents``), an
organization with none (``empty_release``), a release or environment that does not exist
(``invalid_release``, ``invalid_environment``), a rollback to a release never served
(``not_in_history``), an ``If-Match`` that is not the environment's revision
(``revision_mismatch``). Those answers, with exactly those codes, are let through; any other
refusal of valid data still fails. So are cases that schemathesis itself generated with an
invalid part.
"""

from __future__ import annotations

import secrets

import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, events
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agents_api.app import create_app
from agents_api.tokens import TokenCodec
from agents_core.db import Database
from agents_core.schemas import SignupRequest
from agents_core.users.service import AccountService
from tests.conftest import SECRET, make_settings

MAX_EXAMPLES = 8
"""Generated cases per operation in the fuzzing phase (the coverage phase adds its own)."""


@pytest.fixture(scope="module")
async def admin_token(database: Database) -> str:
    async with database.connect() as conn:
        organization, user = await AccountService(conn).signup(
            SignupRequest(
                organization_name=f"Schemathesis {secrets.token_hex(3)}",
                email=f"schemathesis-{secrets.token_hex(4)}@example.com",
                password="correct horse battery",
            )
        )
    return TokenCodec(SECRET, 3600).issue(user.id, organization.id)


STATE_DEPENDENT = {
    (400, "invalid_handoff_targets"),
    (400, "invalid_cursor"),
    (412, "version_mismatch"),
    (400, "invalid_agents"),
    (400, "empty_release"),
    (400, "invalid_release"),
    (400, "invalid_environment"),
    (400, "not_in_history"),
    (412, "revision_mismatch"),
}
"""Refusals of well-formed requests that depend on what is stored (see the module docstring)."""


def _problem_code(response: schemathesis.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


@schemathesis.check
def valid_data_accepted_unless_state_refuses(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    if (response.status_code, _problem_code(response)) in STATE_DEPENDENT:
        return None
    meta = case.meta
    if meta is not None and any(part.mode.is_negative for part in meta.components.values()):
        # The coverage phase may vary one valid parameter while another part of the request
        # (its body, say ``0``) is one of its invalid values, and still call the case positive.
        return None
    return positive_data_acceptance(ctx, response, case)


def _failures(event: events.EngineEvent) -> list[str]:
    if isinstance(event, events.NonFatalError | events.FatalError):
        return [f"error: {event}"]
    if not isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
        return []
    found = []
    for checks in event.recorder.checks.values():
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                failure = check.failure_info.failure
                found.append(
                    f"{failure.operation}: {check.name}: {failure.title}\n{failure.message}\n"
                    + check.failure_info.code_sample[:1500]
                )
    return found


def test_every_operation_conforms(pg_url: str, admin_token: str) -> None:
    app = create_app(make_settings(pg_url))
    schema = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    schema.config.update(headers={"Authorization": f"Bearer {admin_token}"})
    schema.config.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing", "stateful"])
    schema.config.checks.update(excluded_check_names=["ignored_auth", "positive_data_acceptance"])

    failures: list[str] = []
    operations = set()
    for event in schemathesis.engine.from_schema(schema).execute():
        failures += _failures(event)
        if isinstance(event, events.ScenarioFinished) and event.label:
            operations.add(event.label)
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(sorted(set(failures)))
    # Every operation of the document was exercised.
    documented = {
        f"{method.upper()} {path}"
        for path, item in app.openapi_schema.to_schema()["paths"].items()
        for method in item
    }
    assert documented <= operations, documented - operations
