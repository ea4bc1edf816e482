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
from typing import Any, Final

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
]


class AgentsError(Exception):
    """Base of every exception the SDK raises on purpose."""


class _NoAnswerError(AgentsError):
    """The request got no answer; ``request`` is the one sent, when httpx knows it."""

    def __init__(self, message: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(message)
        self.request = request


class APIConnectionError(_NoAnswerError):
    """The request could not be sent or its answer could not be read."""


class APITimeoutError(_NoAnswerError):
    """The API did not answer within the client's timeout."""


class APIResponseValidationError(AgentsError):
    """A success answer whose body does not decode as the documented wire type (a client and a
    server of different versions, or something in between that is not the API)."""

    def __init__(self, message: str, *, response: httpx.Response) -> None:
        super().__init__(message)
        self.response = response


_BY_STATUS: Final[dict[int, type[APIStatusError]]] = {}
_BY_CODE: Final[dict[str, type[APIStatusError]]] = {}


class APIStatusError(AgentsError):
    """The API answered with an error status; ``problem`` is its RFC 9457 problem document.

    A subclass declares what it stands for in its class statement: the ``statuses`` it is
    raised for, or a problem ``code`` (raised for that code when it is a subclass of the
    status's class). :func:`status_error` picks the class from these declarations.
    """

    def __init_subclass__(
        cls, *, statuses: tuple[int, ...] = (), code: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        _BY_STATUS.update(dict.fromkeys(statuses, cls))
        if code is not None:
            _BY_CODE[code] = cls

    def __init__(self, problem: ProblemDetails, *, response: httpx.Response) -> None:
        text = f"{problem.status} {problem.code or problem.title}"
        if problem.detail:
            text += f": {problem.detail}"
        super().__init__(text)
        self.problem = problem
        self.response = response
        self.status: int = problem.status
        self.code: str | None = problem.code
        """The stable machine-readable code, e.g. ``agent_name_taken``."""
        self.detail: str | None = problem.detail


class BadRequestError(APIStatusError, statuses=(400, 422)):
    """Validation or business-rule failure."""

    @property
    def errors(self) -> list[FieldError]:
        """One entry per invalid field (``field`` is its path in the body or query)."""
        return list(self.problem.errors or [])


class AuthenticationError(APIStatusError, statuses=(401,)):
    """Missing, invalid or expired credentials, or a wrong email/password at login."""


class PermissionDeniedError(APIStatusError, statuses=(403,)):
    """Authenticated, but the credential's role may not do this."""


class NotFoundError(APIStatusError, statuses=(404,)):
    """Not found, or it belongs to another organization (the API does not tell them apart)."""


class ConflictError(APIStatusError, statuses=(409,)):
    """Conflict with the current state (``email_taken``, ``agent_name_taken``, …)."""


class PreconditionFailedError(APIStatusError, statuses=(412,)):
    """The agent is no longer at the expected version (``version_mismatch``)."""


class RateLimitError(APIStatusError, statuses=(429,)):
    """Too many requests."""

    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait, from ``Retry-After``, if it said."""
        return parse_retry_after(self.response.headers.get("Retry-After"))


class ServerError(APIStatusError):
    """A 5xx answer: 503 means the database is unavailable for the moment."""


class InvalidAgentsError(BadRequestError, code="invalid_agents"):
    """A release named ids that are not active agents of the organization (``errors`` names
    each as ``agents[i]``)."""


class EmptyReleaseError(BadRequestError, code="empty_release"):
    """The organization has no active agent to release."""


class InvalidReleaseError(BadRequestError, code="invalid_release"):
    """An environment was pointed at a release (or canary release) that does not exist."""


class InvalidEnvironmentError(BadRequestError, code="invalid_environment"):
    """A promotion named an environment to promote from that does not exist."""


class NotInHistoryError(BadRequestError, code="not_in_history"):
    """A rollback named a release the environment never served."""


class ReleaseNotFoundError(NotFoundError, code="release_not_found"):
    """No such release in the organization."""


class EnvironmentNotFoundError(NotFoundError, code="environment_not_found"):
    """No such environment in the organization."""


class NothingToRollBackError(ConflictError, code="nothing_to_roll_back"):
    """The environment never served another release: there is nothing to roll back to."""


class RevisionMismatchError(PreconditionFailedError, code="revision_mismatch"):
    """The environment is no longer at the expected revision; nothing was changed."""


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
