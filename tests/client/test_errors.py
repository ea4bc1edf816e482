"""The API's problem documents come back as the SDK's typed exceptions."""

from __future__ import annotations

import uuid

import httpx
import pytest

from agents_client import (
    AgentCreate,
    AgentsError,
    AgentUpdate,
    ApiKeyCreate,
    APIStatusError,
    AsyncAgentsClient,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    FieldError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    ProblemDetails,
    RateLimitError,
    Role,
    ServerError,
    UserCreate,
)
from agents_client.errors import status_error
from tests.client.conftest import signup_body


def agent(name: str, **extra: object) -> AgentCreate:
    return AgentCreate(name=name, instructions="Help the caller.", **extra)  # type: ignore[arg-type]


async def test_not_found(admin_sdk: AsyncAgentsClient) -> None:
    missing = uuid.uuid4()
    with pytest.raises(NotFoundError) as caught:
        await admin_sdk.agents.get(missing)
    error = caught.value
    assert error.status == 404
    assert error.code == "agent_not_found"
    assert error.detail is not None
    assert isinstance(error.problem, ProblemDetails)
    assert error.problem.status == 404
    assert isinstance(error, APIStatusError)
    assert isinstance(error, AgentsError)

    created = await admin_sdk.agents.create(agent("Has history"))
    with pytest.raises(NotFoundError) as version:
        await admin_sdk.agents.versions.get(created.id, 7)
    assert version.value.code == "version_not_found"


async def test_a_malformed_id_cannot_leave_its_path_segment(admin_sdk: AsyncAgentsClient) -> None:
    # Percent-encoded: "../users" stays one segment, which matches no route.
    with pytest.raises(APIStatusError) as caught:
        await admin_sdk.agents.get("../../users")
    assert caught.value.status in {400, 404}


async def test_conflict(admin_sdk: AsyncAgentsClient) -> None:
    await admin_sdk.agents.create(agent("Front desk"))
    with pytest.raises(ConflictError) as caught:
        await admin_sdk.agents.create(agent("FRONT DESK"))
    assert caught.value.status == 409
    assert caught.value.code == "agent_name_taken"

    me = await admin_sdk.auth.me()
    with pytest.raises(ConflictError) as taken:
        await admin_sdk.users.create(
            UserCreate(email=me.email.upper(), password="long enough", role="member")  # type: ignore[arg-type, union-attr]
        )
    assert taken.value.code == "email_taken"


async def test_referenced_agent_cannot_be_deleted_without_force(
    admin_sdk: AsyncAgentsClient,
) -> None:
    expert = await admin_sdk.agents.create(agent("Expert"))
    await admin_sdk.agents.create(agent("Triage", handoff_targets=[expert.id]))
    with pytest.raises(ConflictError) as caught:
        await admin_sdk.agents.delete(expert.id)
    assert caught.value.code == "agent_referenced"
    assert (await admin_sdk.agents.get(expert.id)).is_active


async def test_precondition_failed(admin_sdk: AsyncAgentsClient) -> None:
    created = await admin_sdk.agents.create(agent("Versioned"))
    await admin_sdk.agents.update(created.id, AgentUpdate(instructions="Second."))
    with pytest.raises(PreconditionFailedError) as caught:
        await admin_sdk.agents.update(
            created.id, AgentUpdate(instructions="Third."), expected_version=1
        )
    assert caught.value.status == 412
    assert caught.value.code == "version_mismatch"
    assert (await admin_sdk.agents.get(created.id)).instructions == "Second."
    with pytest.raises(PreconditionFailedError):
        await admin_sdk.agents.patch(created.id, AgentUpdate(name="x"), expected_version=5)
    with pytest.raises(PreconditionFailedError):
        await admin_sdk.agents.versions.restore(created.id, 1, expected_version=1)


async def test_bad_request_lists_field_errors(admin_sdk: AsyncAgentsClient) -> None:
    ghost = uuid.uuid4()
    with pytest.raises(BadRequestError) as caught:
        await admin_sdk.agents.create(agent("Hands off to nobody", handoff_targets=[ghost]))
    error = caught.value
    assert error.status == 400
    assert error.code == "invalid_handoff_targets"
    assert str(ghost) in (error.detail or "")

    with pytest.raises(BadRequestError) as query:
        await admin_sdk.agents.list(limit=0)
    assert query.value.code == "validation_error"
    assert [e.field for e in query.value.errors] == ["limit"]
    assert all(isinstance(e, FieldError) for e in query.value.errors)


async def test_bad_request_from_body_constraints(sdk: AsyncAgentsClient) -> None:
    # msgspec checks length constraints when decoding, so a short password reaches the API.
    with pytest.raises(BadRequestError) as caught:
        await sdk.auth.signup(signup_body(password="short"))
    assert caught.value.code == "validation_error"
    assert [e.field for e in caught.value.errors] == ["password"]


async def test_authentication(admin_sdk: AsyncAgentsClient) -> None:
    admin_sdk.token = "not-a-token"
    with pytest.raises(AuthenticationError) as caught:
        await admin_sdk.agents.list()
    assert caught.value.status == 401
    assert caught.value.code == "unauthorized"


async def test_permission_denied_for_a_member_key(admin_sdk: AsyncAgentsClient) -> None:
    key = await admin_sdk.api_keys.create(ApiKeyCreate(name="reader", role=Role.MEMBER))
    admin_sdk.token = key.key
    assert (await admin_sdk.agents.list()).total == 0
    with pytest.raises(PermissionDeniedError) as caught:
        await admin_sdk.agents.create(agent("Not allowed"))
    assert caught.value.status == 403
    assert caught.value.code == "forbidden"


def _response(status: int, content: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=content,
        headers=headers,
        request=httpx.Request("GET", "http://api.test/api/v1/agents"),
    )


def test_status_mapping_without_a_problem_document() -> None:
    # What a proxy in front of the API may answer: still typed, with the text as detail.
    error = status_error(_response(502, b"<html>Bad gateway</html>"))
    assert isinstance(error, ServerError)
    assert error.status == 502
    assert error.code is None
    assert error.detail == "<html>Bad gateway</html>"

    limited = status_error(_response(429, b"", {"Retry-After": "7"}))
    assert isinstance(limited, RateLimitError)
    assert limited.retry_after == 7.0

    teapot = status_error(_response(418, b"{}"))
    assert type(teapot) is APIStatusError
    assert teapot.status == 418
