"""Which release serves a call: the one rule, used by the API and by the worker's catalog.

With a canary, a call goes to the canary release when
``int.from_bytes(sha256(f"{name}:{call_id}".encode()).digest()[:8], "big") % 100 < weight``,
otherwise (and always without a ``call_id``) to the environment's release. The same call id
always lands on the same side, and a weight of ``w`` sends ``w`` percent of distinct calls to
the canary.
"""

from __future__ import annotations

from hashlib import sha256

import msgspec

__all__ = ["Serving", "canary_bucket"]


def canary_bucket(environment: str, call_id: str) -> int:
    """The call's bucket, 0 to 99, in this environment."""
    digest = sha256(f"{environment}:{call_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


class Serving(msgspec.Struct, frozen=True):
    """What an environment serves: its release, and a canary release with its weight."""

    release: int
    canary_release: int | None
    canary_weight: int | None
    revision: int

    def release_for(self, environment: str, call_id: str | None) -> int:
        """The release that serves the call ``call_id`` through ``environment`` (this
        environment's name)."""
        if (
            call_id is None
            or self.canary_release is None
            or self.canary_weight is None
            or canary_bucket(environment, call_id) >= self.canary_weight
        ):
            return self.release
        return self.canary_release

    @property
    def releases(self) -> tuple[int, ...]:
        """The releases it serves: its own, then its canary's."""
        if self.canary_release is None:
            return (self.release,)
        return (self.release, self.canary_release)
