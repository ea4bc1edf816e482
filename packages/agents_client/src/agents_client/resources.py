"""The resources, one per aggregate, each method described once for both clients.

Every method here is a builder: it says which request to send and how to read the answer, and
nothing else. :mod:`agents_client.endpoints` turns it into a blocking method on
:class:`~agents_client.AgentsClient` and a coroutine on :class:`~agents_client.AsyncAgentsClient`.
The ``route`` parameter is supplied by the decorator (it is the route it declares); callers never
pass it.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Final, TypedDict, TypeVar, Unpack
from uuid import UUID

import httpx
import msgspec

from agents_client.endpoints import Resource, S, endpoint, pager
from agents_client.spec import (
    Page,
    PageWalk,
    PathValue,
    RequestSpec,
    ResponseParser,
    Route,
    json_of,
    list_of,
    no_content,
    page_of,
)
from agents_core.schemas import (
    AgentCreate,
    AgentDiff,
    AgentEvent,
    AgentEventPage,
    AgentExport,
    AgentImportRequest,
    AgentImportResult,
    AgentModality,
    AgentPublic,
    AgentUpdate,
    AgentVersionPublic,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyPrincipalPublic,
    ApiKeyPublic,
    Environment,
    EnvironmentMove,
    EnvironmentPromote,
    EnvironmentPut,
    EnvironmentRollback,
    HealthStatus,
    LoginRequest,
    Release,
    ReleaseCreate,
    ReleasedAgent,
    ReleaseDiff,
    SignupRequest,
    SignupResponse,
    TokenResponse,
    UserCreate,
    UserPublic,
    UserUpdate,
)

__all__ = [
    "AgentsResource",
    "ApiKeysResource",
    "AuthResource",
    "EnvironmentsResource",
    "HealthResource",
    "ReleasesResource",
    "UsersResource",
    "VersionsResource",
]

Id = UUID | str
"""Ids are UUIDs; their string form is accepted too."""

DEFAULT_PAGE_SIZE: Final = 100

T = TypeVar("T")
ItemT = TypeVar("ItemT")


def _conditional(
    route: Route,
    parse: ResponseParser[T],
    path_params: Mapping[str, PathValue],
    expected: int | None,
    body: object = None,
) -> RequestSpec[T]:
    """A write that applies only at the ``expected`` version of an agent or revision of an
    environment (sent as ``If-Match``, their ``ETag``), or whatever it is when ``None``."""
    headers = {} if expected is None else {"If-Match": f'"{expected}"'}
    return RequestSpec(route, parse, path_params=path_params, body=body, headers=headers)


class HealthResource(Resource[S]):
    """``/health``: no credentials needed."""

    @endpoint("GET", "/health")
    def live(self, route: Route) -> RequestSpec[HealthStatus]:
        """Liveness: the API process is up."""
        return RequestSpec(route, json_of(HealthStatus), authenticated=False)

    @endpoint("GET", "/health/ready")
    def ready(self, route: Route) -> RequestSpec[HealthStatus]:
        """Readiness: the database answers. Raises :class:`ServerError` (503) when it does not;
        not retried, so a probe learns the state at once."""
        return RequestSpec(route, json_of(HealthStatus), authenticated=False, retry=False)


class _MeProbe(msgspec.Struct):
    api_key: msgspec.Raw = msgspec.Raw(b"null")


_ME_PROBE: Final = msgspec.json.Decoder(_MeProbe)


def _parse_me(response: httpx.Response) -> UserPublic | ApiKeyPrincipalPublic:
    # Two untagged object types cannot be one msgspec union: look at the shape first.
    try:
        is_key = bytes(_ME_PROBE.decode(response.content).api_key) != b"null"
    except (msgspec.DecodeError, msgspec.ValidationError):
        is_key = False
    if is_key:
        return json_of(ApiKeyPrincipalPublic)(response)
    return json_of(UserPublic)(response)


class AuthResource(Resource[S]):
    """Sign-up, login and the current credential."""

    @endpoint("POST", "/api/v1/auth/signup")
    def signup(
        self, route: Route, body: SignupRequest, *, use_token: bool = True
    ) -> RequestSpec[SignupResponse]:
        """Create an organization and its first admin. With ``use_token`` (the default) the
        client uses the new access token for the calls that follow."""
        return RequestSpec(
            route,
            json_of(SignupResponse),
            body=body,
            authenticated=False,
            on_result=(lambda r: self._sender.set_token(r.access_token)) if use_token else None,
        )

    @endpoint("POST", "/api/v1/auth/login")
    def login(
        self, route: Route, email: str, password: str, *, use_token: bool = True
    ) -> RequestSpec[TokenResponse]:
        """Exchange email and password for an access token. With ``use_token`` (the default)
        the client uses it for the calls that follow. A wrong email or password raises
        :class:`AuthenticationError`."""
        return RequestSpec(
            route,
            json_of(TokenResponse),
            body=LoginRequest(email=email, password=password),
            authenticated=False,
            on_result=(lambda r: self._sender.set_token(r.access_token)) if use_token else None,
        )

    @endpoint("GET", "/api/v1/auth/me")
    def me(self, route: Route) -> RequestSpec[UserPublic | ApiKeyPrincipalPublic]:
        """Who the credential belongs to: the user, or for an API key the key and its role."""
        return RequestSpec(route, _parse_me)


class UsersResource(Resource[S]):
    """The organization's users (admin only)."""

    @endpoint("POST", "/api/v1/users")
    def create(self, route: Route, body: UserCreate) -> RequestSpec[UserPublic]:
        """Add a user to the caller's organization; ``email_taken`` → :class:`ConflictError`."""
        return RequestSpec(route, json_of(UserPublic), body=body)

    @endpoint("GET", "/api/v1/users")
    def list(self, route: Route) -> RequestSpec[builtins.list[UserPublic]]:
        """Every user of the organization."""
        return RequestSpec(route, list_of(UserPublic))

    @endpoint("PATCH", "/api/v1/users/{user_id}")
    def update(self, route: Route, user_id: Id, changes: UserUpdate) -> RequestSpec[UserPublic]:
        """Change role, active state or name (only the members set in ``changes``)."""
        return RequestSpec(
            route, json_of(UserPublic), path_params={"user_id": user_id}, body=changes
        )


class ApiKeysResource(Resource[S]):
    """API keys for services and workers (admin only)."""

    @endpoint("POST", "/api/v1/api-keys")
    def create(self, route: Route, body: ApiKeyCreate) -> RequestSpec[ApiKeyCreated]:
        """Create a key. ``key`` in the answer is the only time the secret is shown."""
        return RequestSpec(route, json_of(ApiKeyCreated), body=body)

    @endpoint("GET", "/api/v1/api-keys")
    def list(self, route: Route) -> RequestSpec[builtins.list[ApiKeyPublic]]:
        """The organization's active keys, without their secrets."""
        return RequestSpec(route, list_of(ApiKeyPublic))

    @endpoint("DELETE", "/api/v1/api-keys/{key_id}")
    def delete(self, route: Route, key_id: Id) -> RequestSpec[None]:
        """Revoke a key; it stops working at once."""
        return RequestSpec(route, no_content, path_params={"key_id": key_id})


class VersionsResource(Resource[S]):
    """An agent's saved versions."""

    @endpoint("GET", "/api/v1/agents/{agent_id}/versions")
    def list(self, route: Route, agent_id: Id) -> RequestSpec[builtins.list[AgentVersionPublic]]:
        """Saved versions, newest first."""
        return RequestSpec(route, list_of(AgentVersionPublic), path_params={"agent_id": agent_id})

    @endpoint("GET", "/api/v1/agents/{agent_id}/versions/{version}")
    def get(self, route: Route, agent_id: Id, version: int) -> RequestSpec[AgentVersionPublic]:
        """One saved version; ``version_not_found`` → :class:`NotFoundError`."""
        return RequestSpec(
            route,
            json_of(AgentVersionPublic),
            path_params={"agent_id": agent_id, "version": version},
        )

    @endpoint("POST", "/api/v1/agents/{agent_id}/versions/{version}/restore")
    def restore(
        self, route: Route, agent_id: Id, version: int, *, expected_version: int | None = None
    ) -> RequestSpec[AgentPublic]:
        """Make a saved version the current configuration (the replaced one is saved first).
        With ``expected_version``, fails with :class:`PreconditionFailedError` unless the agent
        is still at that version."""
        return _conditional(
            route,
            json_of(AgentPublic),
            {"agent_id": agent_id, "version": version},
            expected_version,
        )


def _next_offset(
    spec: RequestSpec[Page[ItemT]], page: Page[ItemT]
) -> RequestSpec[Page[ItemT]] | None:
    if not page.has_more:
        return None
    return spec.with_query(offset=page.offset + len(page.items))


def _next_cursor(
    spec: RequestSpec[AgentEventPage], page: AgentEventPage
) -> RequestSpec[AgentEventPage] | None:
    # ``has_more`` says whether events were already waiting beyond this page: without it the
    # walk would end only after one more request that comes back empty.
    if not page.events or page.next_cursor is None or not page.has_more:
        return None
    return spec.with_query(after=page.next_cursor)


class AgentFilters(TypedDict, total=False):
    """What an agent listing keeps (each left out, or ``None``, keeps every agent)."""

    q: str | None
    modality: AgentModality | None
    tool: str | None


def _items(page: Page[ItemT]) -> builtins.list[ItemT]:
    return page.items


def _by_offset(first: RequestSpec[Page[ItemT]]) -> PageWalk[Page[ItemT], ItemT]:
    """A listing read page by page from ``first``, each page at the offset after the last."""
    return PageWalk(first=first, items=_items, follow=_next_offset)


def _event_items(page: AgentEventPage) -> builtins.list[AgentEvent]:
    return page.events


class AgentsResource(Resource[S]):
    """Agents of the caller's organization; ``versions`` holds their history."""

    def __init__(self, sender: S) -> None:
        super().__init__(sender)
        self.versions: VersionsResource[S] = VersionsResource(sender)

    @endpoint("POST", "/api/v1/agents")
    def create(self, route: Route, body: AgentCreate) -> RequestSpec[AgentPublic]:
        """Create an agent (version 1). ``agent_name_taken`` → :class:`ConflictError`, bad
        handoff targets → :class:`BadRequestError`."""
        return RequestSpec(route, json_of(AgentPublic), body=body)

    @endpoint("GET", "/api/v1/agents")
    def list(
        self,
        route: Route,
        *,
        limit: int | None = None,
        offset: int | None = None,
        **filters: Unpack[AgentFilters],
    ) -> RequestSpec[Page[AgentPublic]]:
        """One page of active agents, newest first; ``total`` counts every match. ``q`` is a
        case-insensitive substring of the name, ``modality`` keeps agents of that modality,
        ``tool`` agents that have that tool."""
        return RequestSpec(
            route, page_of(AgentPublic), query={"limit": limit, "offset": offset, **filters}
        )

    @pager("GET", "/api/v1/agents")
    def iterate(
        self, route: Route, *, page_size: int = DEFAULT_PAGE_SIZE, **filters: Unpack[AgentFilters]
    ) -> PageWalk[Page[AgentPublic], AgentPublic]:
        """Every matching agent (``q``, ``modality``, ``tool`` as for :meth:`list`), fetching
        pages of ``page_size`` as it goes. Pages are read by offset: agents created or deleted
        meanwhile can shift an item into the next page or out of it."""
        return _by_offset(
            AgentsResource.list.build(self, route, limit=page_size, offset=0, **filters)
        )

    @endpoint("GET", "/api/v1/agents/{agent_id}")
    def get(self, route: Route, agent_id: Id) -> RequestSpec[AgentPublic]:
        """One agent; deleted, missing or another organization's → :class:`NotFoundError`."""
        return RequestSpec(route, json_of(AgentPublic), path_params={"agent_id": agent_id})

    @endpoint("PUT", "/api/v1/agents/{agent_id}")
    def update(
        self,
        route: Route,
        agent_id: Id,
        changes: AgentUpdate,
        *,
        expected_version: int | None = None,
    ) -> RequestSpec[AgentPublic]:
        """Change the members set in ``changes`` (``voice=None`` clears the voice); a change
        saves the previous configuration as a version. With ``expected_version`` (sent as
        ``If-Match``), fails with :class:`PreconditionFailedError` unless the agent is still at
        that version. Sent as ``PUT``, so it is retried on transient failures; if a retried
        attempt had in fact been applied, ``expected_version`` makes the retry fail with 412
        rather than go unnoticed."""
        return _conditional(
            route, json_of(AgentPublic), {"agent_id": agent_id}, expected_version, changes
        )

    patch = update.sent_as(
        "PATCH",
        """:meth:`update` sent as ``PATCH`` (the API gives both the same meaning); never
        retried automatically.""",
    )

    @endpoint("DELETE", "/api/v1/agents/{agent_id}")
    def delete(self, route: Route, agent_id: Id, *, force: bool = False) -> RequestSpec[None]:
        """Soft-delete an agent. If other agents hand off to it → :class:`ConflictError`
        (``agent_referenced``), unless ``force``, which also removes it from their targets."""
        return RequestSpec(
            route,
            no_content,
            path_params={"agent_id": agent_id},
            query={"force": True if force else None},
        )

    @endpoint("POST", "/api/v1/agents/{agent_id}/duplicate")
    def duplicate(self, route: Route, agent_id: Id) -> RequestSpec[AgentPublic]:
        """A new agent with the same configuration, named ``"<name> (Copy)"`` (or ``(Copy 2)``…)."""
        return RequestSpec(route, json_of(AgentPublic), path_params={"agent_id": agent_id})

    @endpoint("GET", "/api/v1/agents/export")
    def export(self, route: Route) -> RequestSpec[builtins.list[AgentExport]]:
        """Every active agent in portable form (handoff targets by name)."""
        return RequestSpec(route, list_of(AgentExport))

    @endpoint("POST", "/api/v1/agents/import")
    def import_agents(
        self,
        route: Route,
        agents: AgentImportRequest | Sequence[AgentExport],
        *,
        dry_run: bool = False,
    ) -> RequestSpec[AgentImportResult]:
        """Create the given agents (e.g. another organization's :meth:`export`), skipping names
        that exist; all or nothing. ``dry_run`` validates and reports without writing."""
        body = (
            agents
            if isinstance(agents, AgentImportRequest)
            else AgentImportRequest(agents=builtins.list(agents))
        )
        return RequestSpec(route, json_of(AgentImportResult), body=body, query={"dry_run": dry_run})

    @endpoint("GET", "/api/v1/agents/{agent_id}/diff")
    def diff(
        self, route: Route, agent_id: Id, from_: int, to: int | None = None
    ) -> RequestSpec[AgentDiff]:
        """The configuration fields that differ between versions ``from_`` and ``to`` (default:
        the current version); ``version_not_found`` → :class:`NotFoundError`."""
        return RequestSpec(
            route,
            json_of(AgentDiff),
            path_params={"agent_id": agent_id},
            query={"from": from_, "to": to},
        )

    @endpoint("GET", "/api/v1/agents/events")
    def events(
        self, route: Route, *, after: str | None = None, limit: int | None = None
    ) -> RequestSpec[AgentEventPage]:
        """One page of the organization's change feed, after the opaque cursor ``after``."""
        return RequestSpec(route, json_of(AgentEventPage), query={"after": after, "limit": limit})

    @pager("GET", "/api/v1/agents/events")
    def iter_events(
        self, route: Route, *, after: str | None = None, limit: int | None = None
    ) -> PageWalk[AgentEventPage, AgentEvent]:
        """Every event after ``after``, oldest first, following ``next_cursor`` page by page
        (``limit`` per page) until no more are waiting. To follow the feed later, start again
        after the last event's ``cursor``."""
        first = AgentsResource.events.build(self, route, after=after, limit=limit)
        return PageWalk(first=first, items=_event_items, follow=_next_cursor)


class ReleasesResource(Resource[S]):
    """Releases: immutable sets of agents, each pinned at a version, closed under handoff."""

    @endpoint("POST", "/api/v1/releases")
    def create(self, route: Route, body: ReleaseCreate | None = None) -> RequestSpec[Release]:
        """Release agents at their current versions: every active agent, or (``body.agents``)
        those and every agent they hand off to. ``invalid_agents`` →
        :class:`InvalidAgentsError`, nothing to release → :class:`EmptyReleaseError`."""
        return RequestSpec(route, json_of(Release), body=body or ReleaseCreate())

    @endpoint("GET", "/api/v1/releases")
    def list(
        self, route: Route, *, limit: int | None = None, offset: int | None = None
    ) -> RequestSpec[Page[Release]]:
        """One page of releases, newest first; ``total`` counts them all."""
        return RequestSpec(route, page_of(Release), query={"limit": limit, "offset": offset})

    @pager("GET", "/api/v1/releases")
    def iterate(
        self, route: Route, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> PageWalk[Page[Release], Release]:
        """Every release, newest first, fetching pages of ``page_size`` as it goes."""
        return _by_offset(ReleasesResource.list.build(self, route, limit=page_size, offset=0))

    @endpoint("GET", "/api/v1/releases/{number}")
    def get(self, route: Route, number: int) -> RequestSpec[Release]:
        """One release; ``release_not_found`` → :class:`ReleaseNotFoundError`."""
        return RequestSpec(route, json_of(Release), path_params={"number": number})

    @endpoint("GET", "/api/v1/releases/{number}/agents/{agent_id}")
    def agent(self, route: Route, number: int, agent_id: Id) -> RequestSpec[ReleasedAgent]:
        """An agent's configuration as the release pins it (also after the agent changed or
        was deleted); not a member → :class:`NotFoundError` (``agent_not_found``)."""
        return RequestSpec(
            route, json_of(ReleasedAgent), path_params={"number": number, "agent_id": agent_id}
        )

    @endpoint("GET", "/api/v1/releases/{number}/diff/{base}")
    def diff(self, route: Route, number: int, base: int) -> RequestSpec[ReleaseDiff]:
        """What release ``number`` changes against release ``base``, agent by agent."""
        return RequestSpec(
            route, json_of(ReleaseDiff), path_params={"number": number, "base": base}
        )


def _move(
    route: Route, name: str, body: object, expected_revision: int | None
) -> RequestSpec[Environment]:
    """A request that moves the environment ``name`` (put, promote, rollback)."""
    return _conditional(route, json_of(Environment), {"name": name}, expected_revision, body)


class EnvironmentsResource(Resource[S]):
    """Environments (``production``, ``staging`` …): each serves a release until moved.

    Moves take ``expected_revision`` (sent as ``If-Match``): unless the environment is still at
    that revision they fail with :class:`RevisionMismatchError` and change nothing."""

    @endpoint("GET", "/api/v1/environments")
    def list(self, route: Route) -> RequestSpec[builtins.list[Environment]]:
        """The organization's environments, by name."""
        return RequestSpec(route, list_of(Environment))

    @endpoint("GET", "/api/v1/environments/{name}")
    def get(self, route: Route, name: str) -> RequestSpec[Environment]:
        """One environment; missing → :class:`EnvironmentNotFoundError`."""
        return RequestSpec(route, json_of(Environment), path_params={"name": name})

    @endpoint("PUT", "/api/v1/environments/{name}")
    def put(
        self,
        route: Route,
        name: str,
        body: EnvironmentPut,
        *,
        expected_revision: int | None = None,
    ) -> RequestSpec[Environment]:
        """Deploy: point the environment (created if new) at ``body.release``, with an optional
        canary. A release that does not exist → :class:`InvalidReleaseError`. Sending what it
        already serves changes nothing (same revision), so a retry is harmless."""
        return _move(route, name, body, expected_revision)

    @endpoint("DELETE", "/api/v1/environments/{name}")
    def delete(
        self, route: Route, name: str, *, expected_revision: int | None = None
    ) -> RequestSpec[None]:
        """Delete the environment and its history."""
        return _conditional(route, no_content, {"name": name}, expected_revision)

    @endpoint("POST", "/api/v1/environments/{name}/promote")
    def promote(
        self, route: Route, name: str, *, from_: str, expected_revision: int | None = None
    ) -> RequestSpec[Environment]:
        """Point the environment (created if new) at the release environment ``from_`` serves,
        without a canary. ``from_`` unknown → :class:`InvalidEnvironmentError`."""
        return _move(route, name, EnvironmentPromote(from_=from_), expected_revision)

    @endpoint("POST", "/api/v1/environments/{name}/rollback")
    def rollback(
        self,
        route: Route,
        name: str,
        release: int | None = None,
        *,
        expected_revision: int | None = None,
    ) -> RequestSpec[Environment]:
        """Back to ``release`` (one it served before, else :class:`NotInHistoryError`), or
        without it to the release it served before its current one (twice in a row toggles);
        the canary is cleared. Nothing to go back to → :class:`NothingToRollBackError`."""
        return _move(route, name, EnvironmentRollback(release=release), expected_revision)

    @endpoint("GET", "/api/v1/environments/{name}/history")
    def history(
        self, route: Route, name: str, *, limit: int | None = None, offset: int | None = None
    ) -> RequestSpec[Page[EnvironmentMove]]:
        """One page of the environment's moves, newest first; ``total`` counts them all."""
        return RequestSpec(
            route,
            page_of(EnvironmentMove),
            path_params={"name": name},
            query={"limit": limit, "offset": offset},
        )

    @pager("GET", "/api/v1/environments/{name}/history")
    def iter_history(
        self, route: Route, name: str, *, page_size: int = DEFAULT_PAGE_SIZE
    ) -> PageWalk[Page[EnvironmentMove], EnvironmentMove]:
        """Every move of the environment, newest first, page by page."""
        return _by_offset(
            EnvironmentsResource.history.build(self, route, name, limit=page_size, offset=0)
        )

    @endpoint("GET", "/api/v1/environments/{name}/agents/{agent_id}")
    def resolve(
        self, route: Route, name: str, agent_id: Id, call_id: str | None = None
    ) -> RequestSpec[ReleasedAgent]:
        """The agent as the environment serves it to the call ``call_id`` (its ``release``
        says which: with a canary, the canary rule picks it per call id)."""
        return RequestSpec(
            route,
            json_of(ReleasedAgent),
            path_params={"name": name, "agent_id": agent_id},
            query={"call_id": call_id},
        )
