from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from agents_api.dependencies import Caller
from agents_api.metrics import record_rate_limited
from agents_api.openapi import problems
from agents_api.security import PUBLIC
from agents_api.settings import Settings
from agents_api.throttling import (
    RATE_LIMITED,
    Throttles,
    rate_limited_by_address,
    too_many_attempts,
)
from agents_api.tokens import TokenCodec
from agents_core.api_keys.service import ApiKeyService
from agents_core.db import Connection
from agents_core.schemas import (
    ApiKeyPrincipalPublic,
    LoginRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
    UserPublic,
)
from agents_core.users.service import AccountService, UserService

NO_STORE = CacheControlHeader(no_store=True)
"""For answers that carry a credential: no cache keeps them."""


class SessionController(Controller):
    """Sign-up and login: the routes that hand out credentials, open to anyone, limited per
    client address (``AGENTS_AUTH_RATE_LIMIT``)."""

    path = "/api/v1/auth"
    tags = ["auth"]
    opt = PUBLIC
    guards = [rate_limited_by_address]

    @post(
        "/signup",
        summary="Sign up: create an organization and its first admin",
        responses=problems(400, 403, 409, 429),
        opt={RATE_LIMITED: "signup"},
        cache_control=NO_STORE,
    )
    async def signup(
        self,
        data: JSONBody[SignupRequest],
        conn: NamedDependency[Connection],
        settings: NamedDependency[Settings],
        tokens: NamedDependency[TokenCodec],
    ) -> SignupResponse:
        if not settings.allow_signup:
            raise PermissionDeniedException("Sign-up is turned off on this deployment")
        organization, user = await AccountService(conn).signup(data)
        return SignupResponse(
            access_token=tokens.issue(user.id, organization.id),
            expires_in=tokens.ttl,
            user=user,
            organization=organization,
        )

    @post(
        "/login",
        status_code=200,
        summary="Log in with email and password",
        description="After `AGENTS_LOGIN_MAX_FAILURES` failed logins for one email within "
        "`AGENTS_LOGIN_WINDOW` seconds, logins for it answer 429 `too_many_attempts` (with "
        "`Retry-After`) until the oldest failure leaves the window; a successful login clears "
        "the count. Limited per client address as well (429 `rate_limited`).",
        responses=problems(400, 401, 429),
        opt={RATE_LIMITED: "login"},
        cache_control=NO_STORE,
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[LoginRequest],
        conn: NamedDependency[Connection],
        tokens: NamedDependency[TokenCodec],
    ) -> TokenResponse:
        throttles: Throttles = request.app.state.throttles
        # Counted by email whether or not an account has it: a 429 says nothing about accounts.
        retry_after = await throttles.login_blocked(data.email)
        if retry_after is not None:
            record_rate_limited(request, "login_email")
            raise too_many_attempts(retry_after)
        found = await AccountService(conn).authenticate(data.email, data.password)
        if found is None or found.user_id is None:
            await throttles.login_failed(data.email)
            raise NotAuthorizedException("Invalid email or password")
        await throttles.login_succeeded(data.email)
        return TokenResponse(
            access_token=tokens.issue(found.user_id, found.organization_id), expires_in=tokens.ttl
        )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @get("/me", summary="Who the credential belongs to", responses=problems(401))
    async def get_me(self, caller: NamedDependency[Caller]) -> UserPublic | ApiKeyPrincipalPublic:
        principal = caller.principal
        if principal.user_id is not None:
            return await UserService(caller).get(principal.user_id)
        assert principal.api_key_id is not None
        key = await ApiKeyService(caller).get(principal.api_key_id)
        return ApiKeyPrincipalPublic(
            organization_id=caller.organization_id, role=principal.role, api_key=key
        )
