from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from agents_api.openapi import problems
from agents_api.security import PUBLIC
from agents_api.settings import Settings
from agents_api.tokens import TokenCodec
from agents_core.api_keys.service import ApiKeyService
from agents_core.db import Connection
from agents_core.principal import Principal
from agents_core.schemas import (
    ApiKeyPrincipalPublic,
    LoginRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
    UserPublic,
)
from agents_core.users.service import UserService


class SessionController(Controller):
    """Sign-up and login: the routes that hand out credentials, open to anyone."""

    path = "/api/v1/auth"
    tags = ["auth"]
    opt = PUBLIC

    @post(
        "/signup",
        summary="Sign up: create an organization and its first admin",
        responses=problems(400, 403, 409),
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
        organization, user = await UserService(conn).signup(data)
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
        responses=problems(400, 401),
    )
    async def login(
        self,
        data: JSONBody[LoginRequest],
        conn: NamedDependency[Connection],
        tokens: NamedDependency[TokenCodec],
    ) -> TokenResponse:
        found = await UserService(conn).authenticate(data.email, data.password)
        if found is None or found.user_id is None:
            raise NotAuthorizedException("Invalid email or password")
        return TokenResponse(
            access_token=tokens.issue(found.user_id, found.organization_id), expires_in=tokens.ttl
        )


class AuthController(Controller):
    path = "/api/v1/auth"
    tags = ["auth"]

    @get(
        "/me",
        operation_id="getMe",
        summary="Who the credential belongs to",
        responses=problems(401),
    )
    async def me(
        self, principal: NamedDependency[Principal], conn: NamedDependency[Connection]
    ) -> UserPublic | ApiKeyPrincipalPublic:
        if principal.user_id is not None:
            return await UserService(conn).get(principal.organization_id, principal.user_id)
        assert principal.api_key_id is not None
        key = await ApiKeyService(conn).get(principal.organization_id, principal.api_key_id)
        return ApiKeyPrincipalPublic(
            organization_id=principal.organization_id, role=principal.role, api_key=key
        )
