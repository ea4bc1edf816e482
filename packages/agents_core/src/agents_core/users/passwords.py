"""Password hashing with argon2id (slow, salted, parameters stored in the hash)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["hash_password", "verify_against_nothing", "verify_password"]

_hasher = PasswordHasher()
# Verifying against this when an email is unknown keeps login's timing the same either way.
_DUMMY_HASH = _hasher.hash("this password never matches anything")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_against_nothing(password: str) -> None:
    verify_password(_DUMMY_HASH, password)
