"""Wire types: the one definition of every request and response body.

The API decodes and encodes these, the client SDK returns them. This module imports msgspec
and the standard library only, so the SDK can use it without SQLAlchemy.

Validation that msgspec constraints cannot express (blank strings, NUL characters, duplicates in
lists) happens in ``__post_init__``; its messages have the form ``"<field>: <message>"`` so the
API can report the offending field (see :func:`split_field_message`). A body with several bad
fields raises one error naming each of them, one per line.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final
from uuid import UUID

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType

__all__ = [
    "CONFIG_FIELDS",
    "DEFAULT_MODEL",
    "ENVIRONMENT_NAME_PATTERN",
    "MAX_RELEASE_AGENTS",
    "UNSET",
    "AgentConfig",
    "AgentCreate",
    "AgentDiff",
    "AgentEvent",
    "AgentEventKind",
    "AgentEventPage",
    "AgentExport",
    "AgentImportRequest",
    "AgentImportResult",
    "AgentModality",
    "AgentPublic",
    "AgentSnapshot",
    "AgentUpdate",
    "AgentVersionPublic",
    "ApiKeyCreate",
    "ApiKeyCreated",
    "ApiKeyPrincipalPublic",
    "ApiKeyPublic",
    "Canary",
    "Environment",
    "EnvironmentMove",
    "EnvironmentPromote",
    "EnvironmentPut",
    "EnvironmentRollback",
    "FieldChange",
    "FieldError",
    "HealthStatus",
    "LoginRequest",
    "OrganizationPublic",
    "PanelType",
    "ProblemDetails",
    "Release",
    "ReleaseAgentChange",
    "ReleaseChange",
    "ReleaseCreate",
    "ReleaseDiff",
    "ReleaseMember",
    "ReleasedAgent",
    "Role",
    "SignupRequest",
    "SignupResponse",
    "TokenResponse",
    "UnsetType",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
    "split_field_message",
]

DEFAULT_MODEL: Final = "gpt-4.1-mini"
MAX_NAME_LENGTH: Final = 255
MAX_INSTRUCTIONS_LENGTH: Final = 100_000


class AgentModality(StrEnum):
    """The media a voice agent works with during a call."""

    AUDIO_ONLY = "audio_only"
    AUDIO_CAMERA = "audio_camera"
    AUDIO_SCREENSHARE = "audio_screenshare"


class PanelType(StrEnum):
    """Workspace panels an agent may open next to the call."""

    SLIDE_PRESENTER = "slide_presenter"
    NOTEPAD = "notepad"
    CODING_IDE = "coding_ide"
    WHITEBOARD = "whiteboard"
    DOCUMENT_VIEWER = "document_viewer"


class Role(StrEnum):
    """What a credential may do within its organization."""

    ADMIN = "admin"
    MEMBER = "member"


class AgentEventKind(StrEnum):
    """The kinds of change recorded in the organization's event feed: an agent's (the first
    six), a release created, an environment moved or deleted."""

    CREATED = "created"
    UPDATED = "updated"
    DELETED = "deleted"
    RESTORED = "restored"
    IMPORTED = "imported"
    DUPLICATED = "duplicated"
    RELEASED = "released"
    DEPLOYED = "deployed"
    UNDEPLOYED = "undeployed"


# -- constrained scalar types ---------------------------------------------------------------------

# What the checks in ``__post_init__`` refuse, said in the JSON Schema of the types (the OpenAPI
# document) without changing how msgspec validates: no NUL character; not blank (a character
# that ``str.strip`` keeps, spelled out so that ECMA and Python regular expressions agree);
# an email with one ``@`` between non-blank parts; lists without duplicates.
_SPACE = "\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000"
_NO_NUL: Final = {"pattern": "^[^\\u0000]*$"}
_NOT_BLANK: Final = {"pattern": f"^[^\\u0000]*[^\\u0000{_SPACE}][^\\u0000]*$"}
_EMAIL: Final = {"pattern": f"^[^@\\u0000{_SPACE}]+@[^@\\u0000{_SPACE}]+$"}
_UNIQUE: Final = Meta(extra_json_schema={"uniqueItems": True})

Name = Annotated[str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, extra_json_schema=_NOT_BLANK)]
Instructions = Annotated[
    str, Meta(min_length=1, max_length=MAX_INSTRUCTIONS_LENGTH, extra_json_schema=_NOT_BLANK)
]
ModelName = Annotated[
    str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, extra_json_schema=_NOT_BLANK)
]
VoiceName = Annotated[
    str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, extra_json_schema=_NOT_BLANK)
]
ToolName = Annotated[
    str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, extra_json_schema=_NOT_BLANK)
]
Email = Annotated[str, Meta(min_length=3, max_length=320, extra_json_schema=_EMAIL)]
Password = Annotated[str, Meta(min_length=8, max_length=1024, extra_json_schema=_NO_NUL)]
LoginPassword = Annotated[str, Meta(min_length=1, max_length=1024, extra_json_schema=_NO_NUL)]
FullName = Annotated[str, Meta(max_length=MAX_NAME_LENGTH, extra_json_schema=_NO_NUL)]

_EMAIL_RE: Final = re.compile(r"^[^@\s]+@[^@\s]+$")


def split_field_message(message: str) -> tuple[str | None, str]:
    """Split a ``"<field>: <message>"`` validation message into its parts."""
    field, sep, rest = message.partition(": ")
    if sep and field and " " not in field:
        return field, rest
    return None, message


def _no_nul(field: str, value: str | None) -> None:
    if value is not None and "\x00" in value:
        raise ValueError(f"{field}: must not contain NUL characters")


def _not_blank(field: str, value: str | None) -> None:
    _no_nul(field, value)
    if value is not None and not value.strip():
        raise ValueError(f"{field}: must not be blank")


def _unique(field: str, values: list[Any] | None) -> None:
    if values is None or len(values) < 2:
        return
    seen: set[Any] = set()
    for index, value in enumerate(values):
        if value in seen:
            # One line per problem (see _Problems): the value is shown on one line.
            shown = " ".join(str(value).split())
            raise ValueError(f"{field}[{index}]: duplicate value {shown}")
        seen.add(value)


def _check_tools(values: list[str] | None, problems: _Problems | None = None) -> None:
    if values is None:
        return
    found = problems or _Problems()
    for index, value in enumerate(values):
        found.check(_not_blank, f"tools[{index}]", value)
    found.check(_unique, "tools", values)
    if problems is None:
        found.raise_any()


def _check_email(field: str, value: str) -> None:
    _no_nul(field, value)
    if not _EMAIL_RE.match(value):
        raise ValueError(f"{field}: is not a valid email address")


class _Problems:
    """The problems of one body, gathered so that every bad field is reported at once: each
    check raises as it does alone, and :meth:`raise_any` raises them together, one per line."""

    __slots__ = ("found",)

    def __init__(self) -> None:
        self.found: list[str] = []

    def check(self, check: Callable[..., None], *args: Any) -> None:
        try:
            check(*args)
        except ValueError as exc:
            self.found.append(str(exc))

    def raise_any(self) -> None:
        if self.found:
            raise ValueError("\n".join(self.found))


def _check_fields(struct: Struct, **checks: Callable[[str, Any], None]) -> None:
    """Check each named field of ``struct`` with its check, raising every problem at once."""
    problems = _Problems()
    for field, check in checks.items():
        problems.check(check, field, getattr(struct, field))
    problems.raise_any()


class _Body(Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of request bodies: unknown members are rejected."""


# -- errors ---------------------------------------------------------------------------------------


class FieldError(Struct, kw_only=True):
    """One invalid field: its path in the body or query, and what is wrong with it."""

    field: str
    message: str


class ProblemDetails(Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem document, extended with a stable ``code``."""

    status: int
    title: str
    type: str = "about:blank"
    detail: str | None = None
    code: str | None = None
    errors: list[FieldError] | None = None
    instance: str | None = None
    request_id: str | None = None
    """The request's ``X-Request-ID``: quote it when reporting the error."""


class HealthStatus(Struct, kw_only=True):
    status: str


# -- organizations, users, API keys --------------------------------------------------------------


class OrganizationPublic(Struct):
    id: UUID
    name: str
    created_at: datetime
    updated_at: datetime


class UserPublic(Struct):
    id: UUID
    organization_id: UUID
    email: str
    full_name: str | None
    role: Role
    is_active: bool
    created_at: datetime
    updated_at: datetime


class _NewUser(_Body):
    """The members of a new user, shared by sign-up and user creation."""

    email: Email
    password: Password
    full_name: FullName | None = None

    def __post_init__(self) -> None:
        self._check()

    def _check(self, **first: Callable[[str, Any], None]) -> None:
        """Check the user's members after the ``first`` checks of the body's own members."""
        _check_fields(self, **first, email=_check_email, password=_no_nul, full_name=_no_nul)


class SignupRequest(_NewUser, kw_only=True):
    organization_name: Name

    def __post_init__(self) -> None:
        self._check(organization_name=_not_blank)


class LoginRequest(_Body):
    email: Annotated[str, Meta(max_length=320, extra_json_schema=_NO_NUL)]
    password: LoginPassword

    def __post_init__(self) -> None:
        _check_fields(self, email=_no_nul, password=_no_nul)


class TokenResponse(Struct, kw_only=True):
    access_token: str
    expires_in: int
    token_type: str = "bearer"


class SignupResponse(Struct, kw_only=True):
    access_token: str
    expires_in: int
    user: UserPublic
    organization: OrganizationPublic
    token_type: str = "bearer"


class UserCreate(_NewUser, kw_only=True):
    role: Role


class UserUpdate(_Body):
    """Partial update: only the members sent change."""

    role: Role | UnsetType = UNSET
    is_active: bool | UnsetType = UNSET
    full_name: FullName | UnsetType | None = UNSET

    def __post_init__(self) -> None:
        if isinstance(self.full_name, str):
            _no_nul("full_name", self.full_name)


class ApiKeyCreate(_Body):
    name: Name
    role: Role

    def __post_init__(self) -> None:
        _not_blank("name", self.name)


class ApiKeyPublic(Struct):
    id: UUID
    name: str
    role: Role
    prefix: str
    created_at: datetime


class ApiKeyCreated(Struct, kw_only=True):
    """The answer to creating a key: the only time ``key`` is ever shown."""

    id: UUID
    name: str
    role: Role
    prefix: str
    key: str
    created_at: datetime


class ApiKeyPrincipalPublic(Struct, kw_only=True):
    """``GET /auth/me`` for an API key."""

    organization_id: UUID
    role: Role
    api_key: ApiKeyPublic
    user: None = None


# -- agents ---------------------------------------------------------------------------------------


class AgentConfig(Struct):
    """An agent's configuration: the eight fields every agent shape is built from.

    A saved version holds exactly this (its ``snapshot``); the public, released and runtime
    shapes extend it; the request shapes (:class:`AgentCreate`, :class:`AgentUpdate`,
    :class:`AgentExport`) carry the same members, each optional in its own way, and convert to
    it by field name. Adding a configuration field means adding it here (and to those request
    shapes, in this module), to the model and in a migration; a test checks that every shape
    and round trip carries every field.
    """

    name: str
    instructions: str
    model: str
    voice: str | None
    handoff_targets: list[UUID]
    tools: list[str]
    modality: AgentModality
    panels: list[PanelType]

    def config(self) -> AgentConfig:
        """Just the configuration (of a public, released or runtime agent)."""
        return AgentConfig(*(getattr(self, name) for name in CONFIG_FIELDS))

    def differing_fields(self, other: AgentConfig) -> list[str]:
        """The configuration fields whose values differ from ``other``'s, in field order."""
        return [name for name in CONFIG_FIELDS if getattr(self, name) != getattr(other, name)]

    def changes_to(self, other: AgentConfig) -> list[FieldChange]:
        """Each field that differs in ``other``, with its value here (``before``) and there
        (``after``) as JSON values, in field order."""
        return [
            FieldChange(
                field=name,
                before=msgspec.to_builtins(getattr(self, name)),
                after=msgspec.to_builtins(getattr(other, name)),
            )
            for name in self.differing_fields(other)
        ]


CONFIG_FIELDS: Final[tuple[str, ...]] = AgentConfig.__struct_fields__
"""The configuration fields, in snapshot order."""

AgentSnapshot = AgentConfig
"""A saved version's configuration (the same shape; the name the version history uses)."""


def _check_config_text(struct: Any, problems: _Problems) -> None:
    """The text checks every request shape shares: no blank name, instructions, model or voice;
    tools not blank and without duplicates; panels without duplicates."""
    for field in ("name", "instructions", "model", "voice"):
        value = getattr(struct, field)
        if isinstance(value, str):
            problems.check(_not_blank, field, value)
    tools = struct.tools
    if isinstance(tools, list):
        _check_tools(tools, problems)
    panels = struct.panels
    if isinstance(panels, list):
        problems.check(_unique, "panels", panels)


class _AgentInput(_Body):
    """The configuration members of a new agent, as a request sends them: only ``name`` and
    ``instructions`` are required; ``null`` or a missing member takes the default shown."""

    name: Name
    instructions: Instructions
    model: ModelName | None = DEFAULT_MODEL
    voice: VoiceName | None = None
    modality: AgentModality | None = AgentModality.AUDIO_ONLY
    panels: Annotated[list[PanelType], _UNIQUE] | None = msgspec.field(default_factory=list)
    tools: Annotated[list[ToolName], _UNIQUE] | None = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        problems = _Problems()
        self._check(problems)
        problems.raise_any()

    def _check(self, problems: _Problems) -> None:
        _check_config_text(self, problems)


def _defaults(shape: type[Struct]) -> dict[str, Callable[[], Any]]:
    """Each member's default, as a function that makes it (a fresh list each time)."""
    defaults: dict[str, Callable[[], Any]] = {}
    for field in msgspec.structs.fields(shape):
        if field.default_factory is not msgspec.NODEFAULT:
            defaults[field.name] = field.default_factory
        elif field.default is not msgspec.NODEFAULT:
            defaults[field.name] = _constant(field.default)
    return defaults


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


class AgentCreate(_AgentInput):
    handoff_targets: Annotated[list[UUID], _UNIQUE] | None = msgspec.field(default_factory=list)

    def _check(self, problems: _Problems) -> None:
        super()._check(problems)
        problems.check(_unique, "handoff_targets", self.handoff_targets)

    def config(self) -> AgentConfig:
        """The configuration this request creates (defaults filled in)."""
        return _config_from(self, _CREATE_DEFAULTS)


class AgentExport(_AgentInput):
    """A portable agent: no ids or timestamps; handoff targets are agent names."""

    handoff_targets: Annotated[list[Name], _UNIQUE] | None = msgspec.field(default_factory=list)

    def _check(self, problems: _Problems) -> None:
        super()._check(problems)
        if self.handoff_targets is not None:
            for index, value in enumerate(self.handoff_targets):
                problems.check(_not_blank, f"handoff_targets[{index}]", value)
            # Compared as agent names are (``lower``, like the database's unique index), so
            # every pair of names that can both exist can also both be targets.
            problems.check(_unique, "handoff_targets", [v.lower() for v in self.handoff_targets])

    @classmethod
    def of(cls, config: AgentConfig, names: dict[UUID, str]) -> AgentExport:
        """``config`` made portable: handoff targets by name (a target ``names`` lacks — no
        longer active — is left out rather than written as something unresolvable)."""
        values = {name: getattr(config, name) for name in CONFIG_FIELDS}
        values["handoff_targets"] = [names[t] for t in config.handoff_targets if t in names]
        return cls(**values)

    def config(self, handoff_targets: list[UUID]) -> AgentConfig:
        """The configuration this item creates, handoff names resolved to ``handoff_targets``."""
        return _config_from(self, _EXPORT_DEFAULTS, handoff_targets=handoff_targets)

    def filled(self) -> AgentExport:
        """The same item with every member given: ``null`` or missing where the configuration
        cannot hold it is the member's default (what an import makes of it), names kept."""
        config = _config_from(self, _EXPORT_DEFAULTS, handoff_targets=[])
        values = {name: getattr(config, name) for name in CONFIG_FIELDS}
        values["handoff_targets"] = list(self.handoff_targets or ())
        return AgentExport(**values)


_NULLABLE: Final = frozenset(
    field.name
    for field in msgspec.structs.fields(AgentConfig)
    if field.type is not None and type(None) in getattr(field.type, "__args__", ())
)


def _config_from(
    struct: Struct, defaults: dict[str, Callable[[], Any]], **given: Any
) -> AgentConfig:
    """The configuration a request shape describes: ``null`` where the configuration cannot
    hold it means the member's default."""
    values: list[Any] = []
    for name in CONFIG_FIELDS:
        value = given[name] if name in given else getattr(struct, name)
        if value is None and name not in _NULLABLE:
            value = defaults[name]()
        values.append(value)
    return AgentConfig(*values)


_CREATE_DEFAULTS: Final = _defaults(AgentCreate)
_EXPORT_DEFAULTS: Final = _defaults(AgentExport)


class AgentUpdate(_Body):
    """Partial update: members not sent stay as they are; ``null`` clears ``voice`` only."""

    name: Name | UnsetType = UNSET
    instructions: Instructions | UnsetType = UNSET
    model: ModelName | UnsetType = UNSET
    voice: VoiceName | UnsetType | None = UNSET
    handoff_targets: Annotated[list[UUID], _UNIQUE] | UnsetType = UNSET
    tools: Annotated[list[ToolName], _UNIQUE] | UnsetType = UNSET
    modality: AgentModality | UnsetType = UNSET
    panels: Annotated[list[PanelType], _UNIQUE] | UnsetType = UNSET

    def __post_init__(self) -> None:
        problems = _Problems()
        _check_config_text(self, problems)
        if not isinstance(self.handoff_targets, UnsetType):
            problems.check(_unique, "handoff_targets", self.handoff_targets)
        problems.raise_any()

    def changes(self) -> dict[str, Any]:
        """The members that were sent, by name."""
        return {
            field: value
            for field in self.__struct_fields__
            if (value := getattr(self, field)) is not UNSET
        }


class AgentPublic(AgentConfig):
    """An agent as the API shows it: its configuration, identity and state."""

    id: UUID
    organization_id: UUID
    is_active: bool
    current_version: int
    created_at: datetime
    updated_at: datetime


class AgentVersionPublic(Struct):
    id: UUID
    agent_id: UUID
    version: int
    snapshot: AgentConfig
    created_at: datetime
    created_by: UUID | None


class AgentImportRequest(_Body):
    """``POST /agents/import``: the agents to create, in any order (handoff names may point
    forward or backward in the batch, or at the organization's active agents)."""

    agents: list[AgentExport]


class AgentImportResult(Struct, kw_only=True):
    """What an import did (or, for a dry run, would do).

    ``agents`` holds the created agents (empty on a dry run); ``created_names`` and
    ``skipped_names`` name the items created (or to be created) and skipped, in batch order.
    """

    created: int
    skipped: int
    agents: list[AgentPublic]
    created_names: list[str] = msgspec.field(default_factory=list)
    skipped_names: list[str] = msgspec.field(default_factory=list)
    dry_run: bool = False


class AgentEvent(Struct, kw_only=True):
    """One recorded change in the organization's change feed.

    ``id`` numbers the organization's events from 1 in commit order. For an agent's event,
    ``version`` is the agent's version after the change (for ``deleted``: the version it was
    deleted at) and ``release`` and ``environment`` are null. For ``released``, ``agent_id`` is
    null and ``release`` (and ``version``) is the new release's number; for ``deployed``,
    ``environment`` names the environment moved, ``release`` is the release it serves now and
    ``version`` its revision; ``undeployed`` is an environment deleted (``release`` null,
    ``version`` the revision it had). ``cursor`` is the feed position just after this event:
    pass it as ``after`` to resume from here. ``actor_id`` is the user who made the change, or
    null for an API key or a system change.
    """

    id: int
    cursor: str
    organization_id: UUID
    agent_id: UUID | None
    version: int
    kind: AgentEventKind
    actor_id: UUID | None
    created_at: datetime
    release: int | None = None
    environment: str | None = None


class AgentEventPage(Struct, kw_only=True):
    """A page of the change feed, oldest first.

    ``next_cursor`` is where to continue: the last event's cursor, or the ``after`` that was
    asked for when the page is empty (null only when the feed is empty and no cursor was given).
    ``has_more`` says whether more events were already waiting beyond this page.
    """

    events: list[AgentEvent]
    next_cursor: str | None
    has_more: bool = False


class FieldChange(Struct, kw_only=True):
    """One configuration field that differs: its value before and after (as JSON)."""

    field: str
    before: Any
    after: Any


class AgentDiff(Struct, kw_only=True):
    """``GET /agents/{id}/diff``: the configuration fields that differ between two versions of
    an agent, in snapshot order; ``before`` is always the value at ``from``."""

    agent_id: UUID
    from_: int = msgspec.field(name="from")
    to: int
    changes: list[FieldChange]


# -- releases and environments -------------------------------------------------------------------

MAX_INT32: Final = 2**31 - 1
MAX_RELEASE_AGENTS: Final = 1000
MAX_RELEASE_MESSAGE: Final = 1000
ENVIRONMENT_NAME_PATTERN: Final = "^[a-z0-9][a-z0-9_-]{0,62}$"
ENVIRONMENT_NAME: Final = re.compile(ENVIRONMENT_NAME_PATTERN)

ReleaseNumber = Annotated[int, Meta(ge=1, le=MAX_INT32)]
CanaryWeight = Annotated[int, Meta(ge=1, le=99)]


class ReleaseCreate(_Body):
    """``POST /releases``: without ``agents``, every active agent of the organization; with
    them, those agents and every agent reachable from them through handoff targets. Each at its
    current version."""

    message: (
        Annotated[str, Meta(max_length=MAX_RELEASE_MESSAGE, extra_json_schema=_NO_NUL)] | None
    ) = None
    agents: (
        Annotated[list[UUID], Meta(min_length=1, max_length=MAX_RELEASE_AGENTS), _UNIQUE] | None
    ) = None

    def __post_init__(self) -> None:
        _no_nul("message", self.message)
        _unique("agents", self.agents)


class ReleaseMember(Struct):
    """An agent of a release: its id, its name at the pinned version, and that version."""

    agent_id: UUID
    name: str
    version: int


class Release(Struct, kw_only=True):
    """An immutable set of agents, each pinned at a version; ``agents`` ordered by name."""

    id: UUID
    number: int
    message: str | None
    created_by: UUID | None
    created_at: datetime
    agents: list[ReleaseMember]


class ReleasedAgent(AgentConfig):
    """One agent's configuration as pinned in a release (also after the agent changed or was
    deleted)."""

    agent_id: UUID
    release: int
    version: int


class ReleaseChange(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class ReleaseAgentChange(Struct, kw_only=True):
    """How one agent differs between two releases. ``name`` is its name in ``release`` (in
    ``base`` when removed); ``fields`` are the configuration fields that differ (snapshot order),
    empty for an agent added or removed."""

    agent_id: UUID
    name: str
    change: ReleaseChange
    base_version: int | None
    version: int | None
    fields: list[str]


class ReleaseDiff(Struct, kw_only=True):
    """What ``release`` changes against ``base``, by agent, ordered by name. Agents pinned at
    the same version in both are left out."""

    base: int
    release: int
    agents: list[ReleaseAgentChange]


class Canary(_Body):
    """A second release serving ``weight`` percent of calls."""

    release: ReleaseNumber
    weight: CanaryWeight


class EnvironmentPut(_Body):
    """``PUT /environments/{name}``: the release to serve, and optionally a canary (a canary at
    the release itself is allowed: every call gets that release)."""

    release: ReleaseNumber
    canary: Canary | None = None


class EnvironmentPromote(_Body):
    """``POST /environments/{name}/promote``: take the release that environment ``from``
    serves (its canary is not taken)."""

    from_: Annotated[
        str, Meta(min_length=1, max_length=MAX_NAME_LENGTH, extra_json_schema=_NO_NUL)
    ] = msgspec.field(name="from")

    def __post_init__(self) -> None:
        _no_nul("from", self.from_)


class EnvironmentRollback(_Body):
    """``POST /environments/{name}/rollback``: back to ``release`` (one the environment served
    before), or without it to the release it served before its current one."""

    release: ReleaseNumber | None = None


class Environment(Struct, kw_only=True):
    """An org-scoped name pointing at a release (a number), with an optional canary.
    ``revision`` counts its moves from 1; ``updated_by`` is the user of the last move, or null
    for an API key."""

    name: str
    release: int
    canary: Canary | None
    revision: int
    updated_at: datetime
    updated_by: UUID | None


class EnvironmentMove(Struct, kw_only=True):
    """One move of an environment, as its history keeps it."""

    revision: int
    release: int
    canary: Canary | None
    previous_release: int | None
    actor_id: UUID | None
    created_at: datetime
