"""Domain errors. They say what went wrong in the domain's words; the API maps them to HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from agents_core.schemas import FieldError

__all__ = [
    "AgentNameTaken",
    "AgentNotFound",
    "AgentReferenced",
    "Conflict",
    "DatabaseUnavailable",
    "DomainError",
    "EmailTaken",
    "InvalidHandoffTargets",
    "InvalidInput",
    "LastAdmin",
    "NotFound",
    "VersionMismatch",
    "VersionNotFound",
]


class DomainError(Exception):
    """Base of every error the core raises on purpose."""

    code: ClassVar[str] = "domain_error"

    def __init__(self, detail: str, *, errors: Sequence[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors) if errors else None


class InvalidInput(DomainError):
    """Input that is well-formed but breaks a business rule."""

    code = "validation_error"


class InvalidHandoffTargets(InvalidInput):
    code = "invalid_handoff_targets"


class NotFound(DomainError):
    code = "not_found"


class AgentNotFound(NotFound):
    code = "agent_not_found"

    def __init__(self, detail: str = "Agent not found") -> None:
        super().__init__(detail)


class VersionNotFound(NotFound):
    code = "version_not_found"

    def __init__(self, detail: str = "Version not found") -> None:
        super().__init__(detail)


class Conflict(DomainError):
    code = "conflict"


class EmailTaken(Conflict):
    code = "email_taken"

    def __init__(self) -> None:
        super().__init__("A user with this email already exists")


class LastAdmin(Conflict):
    code = "last_admin"

    def __init__(self) -> None:
        super().__init__("The organization's last active admin cannot be demoted or deactivated")


class AgentNameTaken(Conflict):
    code = "agent_name_taken"


class AgentReferenced(Conflict):
    code = "agent_referenced"


class VersionMismatch(DomainError):
    code = "version_mismatch"


class DatabaseUnavailable(DomainError):
    code = "database_unavailable"
