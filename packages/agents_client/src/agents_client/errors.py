"""The SDK's exceptions: one hierarchy, the API's problem documents mapped back to types.

```
AgentsError
├── APIConnectionError        the request never got an answer (DNS, refused, reset …)
├── APITimeoutError           no answer within the timeout
├── APIResponseValidationError  a success answer that is not the expected wire type
└── APIStatusError            the API answered with a 4xx/5xx problem document
    ├── BadRequestError           400 / 422, with ``errors`` (one entry per bad field)
    │   ├── InvalidAgentsError        invalid_agents (a release of agents that are not active)
    │   ├── EmptyReleaseError         empty_release (no active agent to release)
    │   ├── InvalidReleaseError       invalid_release (an environment at a missing release)
    │   ├── InvalidEnvironmentError   invalid_environment (a promotion from a missing one)
    │   └── NotInHistoryError         not_in_history (a rollback to a release never served)
    ├── AuthenticationError       401
    ├── PermissionDeniedError     403
    ├── NotFoundError             404
    │   ├── ReleaseNotFoundError      release_not_found
    │   └── EnvironmentNotFoundError  environment_not_found
    ├── ConflictError             409
    │   └── NothingToRollBackError    nothing_to_roll_back
    ├── PreconditionFailedError   412 (``If-Match`` / expected version did not match)
    │   └── RevisionMismatchError     revision_mismatch (an environment's revision)
    ├── RateLimitError            429, with ``retry_after``
    └── ServerError               5xx
```

A problem whose ``code`` has a class of its own raises that class (a subclass of its status's
class, so ``except NotFoundError`` still catches a ``ReleaseNotFoundError``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Final

import httpx
import msgspec

from agents_core.schemas import FieldError, ProblemDetails

__all__ = [
    "APIConnectionError",
    "APIResponseValidationError",
    "APIStatusError",
    "APITimeoutError",
    "AgentsError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "EmptyReleaseError",
    "EnvironmentNotFoundError",
    "InvalidAgentsError",
    "InvalidEnvironmentError",
    "InvalidReleaseError",
    "NotFoundError",
    "NotInHistoryError",
    "NothingToRollBackError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RateLimitError",
    "ReleaseNotFoundError",
    "RevisionMismatchError",
    "ServerError",
    "status_error",
]


class AgentsError(Exception):
    """Base of every exception the SDK raises on purpose."""


class APIConnectionError(AgentsError):
    """The request could not be sent or its answer could not be read."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APITimeoutError(AgentsError):
    """The API did not answer within the client's timeout."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APIResponseValidationError(AgentsError):
    """A success answer whose body does not decode as the documented wire type (a client and a
    server of different versions, or something in between that is not the API)."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


class APIStatusError(AgentsError):
    """The API answered with an error status; ``problem`` is its RFC 9457 problem document."""

    def __init__(self, problem: ProblemDetails, *, response: httpx.Response) -> None:
        text = f"{problem.status} {problem.code or problem.title}"
        if problem.detail:
            text += f": {problem.detail}"
        super().__init__(text)
        self.problem = problem
        self.response = response

    @property
    def status(self) -> int:
        return self.problem.status

    @property
    def code(self) -> str | None:
        """The stable machine-readable code, e.g. ``agent_name_taken``."""
        return self.problem.code

    @property
    def detail(self) -> str | None:
        return self.problem.detail


class BadRequestError(APIStatusError):
    """Validation or business-rule failure."""

    @property
    def errors(self) -> list[FieldError]:
        """One entry per invalid field (``field`` is its path in the body or query)."""
        return list(self.problem.errors or [])


class AuthenticationError(APIStatusError):
    """Missing, invalid or expired credentials, or a wrong email/password at login."""


class PermissionDeniedError(APIStatusError):
    """Authenticated, but the credential's role may not do this."""


class NotFoundError(APIStatusError):
    """Not found, or it belongs to another organization (the API does not tell them apart)."""


class ConflictError(APIStatusError):
    """Conflict with the current state (``email_taken``, ``agent_name_taken``, …)."""


class PreconditionFailedError(APIStatusError):
    """The agent is no longer at the expected version (``version_mismatch``)."""


class RateLimitError(APIStatusError):
    """Too many requests."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait, from ``Retry-After``, if it said."""
        return parse_retry_after(self.response.headers.get("Retry-After"))


class ServerError(APIStatusError):
    """A 5xx answer: 503 means the database is unavailable for the moment."""


class InvalidAgentsError(BadRequestError):
    """A release named ids that are not active agents of the organization (``errors`` names
    each as ``agents[i]``)."""


class EmptyReleaseError(BadRequestError):
    """The organization has no active agent to release."""


class InvalidReleaseError(BadRequestError):
    """An environment was pointed at a release (or canary release) that does not exist."""


class InvalidEnvironmentError(BadRequestError):
    """A promotion named an environment to promote from that does not exist."""


class NotInHistoryError(BadRequestError):
    """A rollback named a release the environment never served."""


class ReleaseNotFoundError(NotFoundError):
    """No such release in the organization."""


class EnvironmentNotFoundError(NotFoundError):
    """No such environment in the organization."""


class NothingToRollBackError(ConflictError):
    """The environment never served another release: there is nothing to roll back to."""


class RevisionMismatchError(PreconditionFailedError):
    """The environment is no longer at the expected revision; nothing was changed."""


_BY_STATUS: Final[dict[int, type[APIStatusError]]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    412: PreconditionFailedError,
    422: BadRequestError,
    429: RateLimitError,
}

_BY_CODE: Final[dict[str, type[APIStatusError]]] = {
    "invalid_agents": InvalidAgentsError,
    "empty_release": EmptyReleaseError,
    "invalid_release": InvalidReleaseError,
    "invalid_environment": InvalidEnvironmentError,
    "not_in_history": NotInHistoryError,
    "release_not_found": ReleaseNotFoundError,
    "environment_not_found": EnvironmentNotFoundError,
    "nothing_to_roll_back": NothingToRollBackError,
    "revision_mismatch": RevisionMismatchError,
}

_PROBLEM_DECODER: Final = msgspec.json.Decoder(ProblemDetails)


def _problem_of(response: httpx.Response) -> ProblemDetails:
    try:
        problem = _PROBLEM_DECODER.decode(response.content)
    except msgspec.DecodeError:
        # Not our API's problem document (a proxy's HTML page, an empty body …): keep the
        # status and a bounded piece of the text so the error is still informative.
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = "Error"
        text = response.text.strip()[:500] or None
        return ProblemDetails(status=response.status_code, title=phrase, detail=text)
    if problem.status != response.status_code:
        problem = msgspec.structs.replace(problem, status=response.status_code)
    return problem


def status_error(response: httpx.Response) -> APIStatusError:
    """The typed exception for an error response."""
    status = response.status_code
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIStatusError)
    problem = _problem_of(response)
    special = _BY_CODE.get(problem.code or "")
    if special is not None and issubclass(special, cls):
        cls = special
    return cls(problem, response=response)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent or bad."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(seconds, 0.0)
