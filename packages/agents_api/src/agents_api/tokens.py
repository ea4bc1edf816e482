"""User access tokens: JWT, HS256, signed with ``AGENTS_SECRET_KEY``."""

from __future__ import annotations

import time
from uuid import UUID

import jwt

__all__ = ["TokenCodec"]


class TokenCodec:
    """Issues and checks access tokens. A token names the user only; the user's current
    state (active, role) is read from the database on every request."""

    __slots__ = ("_key", "ttl")

    def __init__(self, secret_key: str, ttl: int) -> None:
        self._key = secret_key
        self.ttl = ttl

    def issue(self, user_id: UUID, organization_id: UUID) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "org": str(organization_id),
            "iat": now,
            "exp": now + self.ttl,
            "typ": "access",
        }
        return jwt.encode(claims, self._key, algorithm="HS256")

    def verify(self, token: str) -> tuple[UUID, int] | None:
        """The user a valid, unexpired token names and its expiry (Unix time), or ``None``."""
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=["HS256"],
                options={"require": ["exp", "sub"]},
            )
            if claims.get("typ") != "access":
                return None
            return UUID(claims["sub"]), int(claims["exp"])
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
