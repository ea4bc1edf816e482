"""The base of every aggregate's service."""

from __future__ import annotations

from typing import Any, ClassVar, get_type_hints

from agents_core.db import Connection, Repository

__all__ = ["Service"]


class Service:
    """Base of the services: one aggregate's rules, run on one connection (each write in its
    own transaction on it, a savepoint inside the caller's).

    A service declares the repositories it uses as annotated attributes, e.g.
    ``agents: AgentRepository``; each is made on the service's connection with the service.
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
