"""Domain errors. They say what went wrong in the domain's words; the API maps them to HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from agents_core.schemas import FieldError

__all__ = [
    "AgentNameTaken",
    "AgentNotFound",
    "AgentReferenced",
    "ApiKeyNotFound",
    "ConcurrentChange",
    "Conflict",
    "ConstraintViolation",
    "DatabaseUnavailable",
    "DomainError",
    "EmailTaken",
    "EmptyRelease",
    "EnvironmentNameTaken",
    "EnvironmentNotFound",
    "InvalidAgents",
    "InvalidEnvironment",
    "InvalidHandoffTargets",
    "InvalidInput",
    "InvalidRelease",
    "InvalidValue",
    "LastAdmin",
    "NotFound",
    "NotInHistory",
    "NothingToRollBack",
    "ReleaseNotFound",
    "RevisionMismatch",
    "UserNotFound",
    "VersionMismatch",
    "VersionNotFound",
]


class DomainError(Exception):
    """Base of every error the core raises on purpose: a stable ``code``, a ``detail`` for
    people (``default_detail`` when none is given) and, for bad input, one entry per bad field."""

    code: ClassVar[str] = "domain_error"
    default_detail: ClassVar[str] = "The request cannot be carried out"

    def __init__(
        self, detail: str | None = None, *, errors: Sequence[FieldError] | None = None
    ) -> None:
        detail = self.default_detail if detail is None else detail
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a business rule."""

    code = "validation_error"


class InvalidHandoffTargets(InvalidInput):
    code = "invalid_handoff_targets"


class InvalidAgents(InvalidInput):
    """A release asked for agents that are not active agents of the organization."""

    code = "invalid_agents"


class EmptyRelease(InvalidInput):
    code = "empty_release"
    default_detail = "The organization has no active agent to release"


class InvalidRelease(InvalidInput):
    """An environment asked to serve a release that does not exist."""

    code = "invalid_release"


class InvalidEnvironment(InvalidInput):
    """A promotion from an environment that does not exist."""

    code = "invalid_environment"


class NotInHistory(InvalidInput):
    """A rollback to a release the environment never served."""

    code = "not_in_history"


class NotFound(DomainError):
    code = "not_found"


class AgentNotFound(NotFound):
    code = "agent_not_found"

    default_detail = "Agent not found"


class UserNotFound(NotFound):
    code = "user_not_found"
    default_detail = "User not found"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    default_detail = "API key not found"


class VersionNotFound(NotFound):
    code = "version_not_found"

    default_detail = "Version not found"


class ReleaseNotFound(NotFound):
    code = "release_not_found"
    default_detail = "Release not found"


class EnvironmentNotFound(NotFound):
    code = "environment_not_found"
    default_detail = "Environment not found"


class Conflict(DomainError):
    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"

    default_detail = "A user with this email already exists"


class LastAdmin(Conflict):
    code = "last_admin"

    default_detail = "The organization's last active admin cannot be demoted or deactivated"


class AgentNameTaken(Conflict):
    code = "agent_name_taken"


class AgentReferenced(Conflict):
    code = "agent_referenced"


class EnvironmentNameTaken(Conflict):
    """Another writer created an environment of that name first (the service then moves it)."""

    code = "environment_name_taken"
    default_detail = "An environment of that name was created concurrently"


class NothingToRollBack(Conflict):
    code = "nothing_to_roll_back"
    default_detail = "The environment never served another release: nothing to roll back to"


class VersionMismatch(DomainError):
    """An ``If-Match`` precondition failed (the API answers 412)."""

    code = "version_mismatch"


class RevisionMismatch(VersionMismatch):
    """An environment's ``If-Match`` named another revision than its current one."""

    code = "revision_mismatch"


class DatabaseUnavailable(DomainError):
    """The database did not answer in time, refused the connection or dropped it. Nothing the
    request asked for was done (a write's transaction did not commit); it may be sent again."""

    code = "database_unavailable"

    default_detail = "The database is unavailable; try again shortly"


class ConcurrentChange(Conflict):
    """The database rolled the transaction back to resolve a conflict with a concurrent one
    (a deadlock or a serialization failure): nothing was written, and sending the same request
    again can succeed."""

    code = "concurrent_change"

    default_detail = (
        "A concurrent change conflicted with this one and it was rolled back: nothing was "
        "changed; retry the request"
    )


class InvalidValue(InvalidInput):
    """A value the database cannot hold (a number out of its column's range, a NUL in text)."""

    code = "invalid_value"

    default_detail = "A value is out of the range the database can hold"


class ConstraintViolation(DomainError):
    """A write broke a constraint of the schema. ``constraint`` names it when the database
    says which (a unique index, a foreign key); repositories turn the ones they expect into the
    domain's own errors (a taken name, a taken email), and anything else is a bug."""

    code = "constraint_violation"

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"constraint {constraint or '(unnamed)'} was violated")
        self.constraint = constraint
