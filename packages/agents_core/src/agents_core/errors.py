"""Domain errors. They say what went wrong in the domain's words; the API maps them to HTTP.

Each error is one class statement that declares its stable ``code`` and, when it has one, the
``detail`` it gives when raised without one. The API maps an error by its category, the base
class (``NotFound`` → 404 …), so a new code is one line here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

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

    def __init_subclass__(cls, *, code: str, detail: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.code = code
        if detail is not None:
            cls.default_detail = detail

    def __init__(
        self, detail: str | None = None, *, errors: Sequence[FieldError] | None = None
    ) -> None:
        detail = self.default_detail if detail is None else detail
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None


# One line per code: its category (the class the API maps), its code, its default detail. A
# comment says when the error is raised where the name does not.

# -- 400: input that is well-formed but breaks a rule ---------------------------------------------


class InvalidInput(DomainError, code="validation_error"):
    """Input that is well-formed but breaks a business rule."""


class InvalidHandoffTargets(InvalidInput, code="invalid_handoff_targets"): ...


# A release asked for agents that are not active agents of the organization.
class InvalidAgents(InvalidInput, code="invalid_agents"): ...


class EmptyRelease(
    InvalidInput, code="empty_release", detail="The organization has no active agent to release"
): ...


# An environment asked to serve a release that does not exist.
class InvalidRelease(InvalidInput, code="invalid_release"): ...


# A promotion from an environment that does not exist.
class InvalidEnvironment(InvalidInput, code="invalid_environment"): ...


# A rollback to a release the environment never served.
class NotInHistory(InvalidInput, code="not_in_history"): ...


# A value the database cannot hold (a number out of its column's range, a NUL in text).
class InvalidValue(
    InvalidInput, code="invalid_value", detail="A value is out of the range the database can hold"
): ...


# -- 404: missing, or another organization's ------------------------------------------------------


class NotFound(DomainError, code="not_found"):
    """What was asked for does not exist, or belongs to another organization."""


class AgentNotFound(NotFound, code="agent_not_found", detail="Agent not found"): ...


class UserNotFound(NotFound, code="user_not_found", detail="User not found"): ...


class ApiKeyNotFound(NotFound, code="api_key_not_found", detail="API key not found"): ...


class VersionNotFound(NotFound, code="version_not_found", detail="Version not found"): ...


class ReleaseNotFound(NotFound, code="release_not_found", detail="Release not found"): ...


class EnvironmentNotFound(
    NotFound, code="environment_not_found", detail="Environment not found"
): ...


# -- 409: in conflict with the current state ------------------------------------------------------


class Conflict(DomainError, code="conflict"):
    """The request conflicts with the current state."""


class EmailTaken(Conflict, code="email_taken", detail="A user with this email already exists"): ...


class LastAdmin(
    Conflict,
    code="last_admin",
    detail="The organization's last active admin cannot be demoted or deactivated",
): ...


class AgentNameTaken(Conflict, code="agent_name_taken"): ...


class AgentReferenced(Conflict, code="agent_referenced"): ...


# Another writer created an environment of that name first (the service then moves it).
class EnvironmentNameTaken(
    Conflict,
    code="environment_name_taken",
    detail="An environment of that name was created concurrently",
): ...


class NothingToRollBack(
    Conflict,
    code="nothing_to_roll_back",
    detail="The environment never served another release: nothing to roll back to",
): ...


class ConcurrentChange(
    Conflict,
    code="concurrent_change",
    detail="A concurrent change conflicted with this one and it was rolled back: nothing was "
    "changed; retry the request",
):
    """The database rolled the transaction back to resolve a conflict with a concurrent one
    (a deadlock or a serialization failure): nothing was written, and sending the same request
    again can succeed."""


# -- 412: a precondition that no longer holds -----------------------------------------------------


class VersionMismatch(DomainError, code="version_mismatch"):
    """An ``If-Match`` precondition failed (the API answers 412)."""


# An environment's ``If-Match`` named another revision than its current one.
class RevisionMismatch(VersionMismatch, code="revision_mismatch"): ...


# -- the database ---------------------------------------------------------------------------------


class DatabaseUnavailable(
    DomainError,
    code="database_unavailable",
    detail="The database is unavailable; try again shortly",
):
    """The database did not answer in time, refused the connection or dropped it. Nothing the
    request asked for was done (a write's transaction did not commit); it may be sent again."""


class ConstraintViolation(DomainError, code="constraint_violation"):
    """A write broke a constraint of the schema. ``constraint`` names it when the database
    says which (a unique index, a foreign key); repositories turn the ones they expect into the
    domain's own errors (a taken name, a taken email), and anything else is a bug."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"constraint {constraint or '(unnamed)'} was violated")
        self.constraint = constraint
