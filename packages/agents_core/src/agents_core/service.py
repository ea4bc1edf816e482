"""The base of every aggregate's service, and the scope a per-organization service acts in."""

from __future__ import annotations

from typing import Any, ClassVar, get_type_hints
from uuid import UUID

from agents_core.db import Connection, Repository

__all__ = ["Scope", "ScopedService", "Service"]


class Scope:
    """Who acts, and where: the connection, the organization, and the user recorded as the
    author of a change (``None`` for an API key or a tool).

    A per-organization service is made for one scope and never touches another organization's
    rows. The API's caller is one; the seed and tests make theirs.
    """

    __slots__ = ("actor_id", "conn", "organization_id")

    def __init__(
        self, conn: Connection, organization_id: UUID, actor_id: UUID | None = None
    ) -> None:
        self.conn = conn
        self.organization_id = organization_id
        self.actor_id = actor_id


class Service:
    """Base of the services: one aggregate's rules, run on one connection (each write in its
    own transaction on it, a savepoint inside the caller's).

    A service declares the repositories it uses as annotated attributes, e.g.
    ``agents: AgentRepository``; each is made on the service's connection with the service.
    This base is for the services that span organizations (sign-up, the credentials check);
    those of one organization are :class:`ScopedService`.
    """

    _repositories: ClassVar[tuple[tuple[str, type[Repository]], ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._repositories = tuple(
            (name, hint)
            for name, hint in get_type_hints(cls).items()
            if isinstance(hint, type) and issubclass(hint, Repository)
        )

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        for name, repository in self._repositories:
            setattr(self, name, repository(conn))


class ScopedService(Service):
    """A service of one organization, acting for one actor: made for a :class:`Scope`, its
    methods take neither the organization nor the actor."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope.conn)
        self.organization_id = scope.organization_id
        self.actor_id = scope.actor_id
