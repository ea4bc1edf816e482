"""User access tokens: JWT, HS256, signed with ``AGENTS_SECRET_KEY``."""

from __future__ import annotations

import time
from uuid import UUID

import jwt

__all__ = ["AUDIENCE", "ISSUER", "REQUIRED_CLAIMS", "TokenCodec"]

ISSUER = "agents-api"
"""``iss`` of every access token this API issues."""
AUDIENCE = "agents-api"
"""``aud`` of every access token: the API itself (a token made for another service, signed with
a shared key, is not one of ours)."""
REQUIRED_CLAIMS = ("sub", "iat", "exp", "iss", "aud")


class TokenCodec:
    """Issues and checks access tokens. A token names the user only; the user's current
    state (active, role) is read from the database on every request.

    A token is refused, even correctly signed, when a claim is missing, when it names another
    issuer or audience, or when it claims to live longer than the configured TTL (a token minted
    with the key for years would otherwise outlive every rotation of policy).
    """

    __slots__ = ("_key", "ttl")

    def __init__(self, secret_key: str, ttl: int) -> None:
        self._key = secret_key
        self.ttl = ttl

    def issue(self, user_id: UUID, organization_id: UUID) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "org": str(organization_id),
            "iss": ISSUER,
            "aud": AUDIENCE,
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
                issuer=ISSUER,
                audience=AUDIENCE,
                options={"require": list(REQUIRED_CLAIMS), "strict_aud": True},
            )
            if claims.get("typ") != "access":
                return None
            issued, expires = claims["iat"], claims["exp"]
            if not isinstance(issued, int | float) or not isinstance(expires, int | float):
                return None
            if expires - issued > self.ttl:
                return None
            return UUID(claims["sub"]), int(expires)
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
