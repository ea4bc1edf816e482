from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import JSONBody

from agents_api.openapi import problems
from agents_api.security import PUBLIC
from agents_api.settings import Settings
from agents_api.tokens import TokenCodec
from agents_core.api_keys.service import ApiKeyService, api_key_public
from agents_core.db.database import Database
from agents_core.principal import Principal
from agents_core.schemas import (
    ApiKeyPrincipalPublic,
    LoginRequest,
    SignupRequest,
    SignupResponse,
    TokenResponse,
    UserPublic,
)
from agents_core.users.service import UserService, organization_public, user_public


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
        database: NamedDependency[Database],
        settings: NamedDependency[Settings],
        tokens: NamedDependency[TokenCodec],
    ) -> SignupResponse:
        if not settings.allow_signup:
            raise PermissionDeniedException("Sign-up is turned off on this deployment")
        async with database.session() as session:
            organization, user = await UserService(session).signup(
                organization_name=data.organization_name,
                email=data.email,
                password=data.password,
                full_name=data.full_name,
            )
        return SignupResponse(
            access_token=tokens.issue(user.id, organization.id),
            expires_in=tokens.ttl,
            user=user_public(user),
            organization=organization_public(organization),
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
        database: NamedDependency[Database],
        tokens: NamedDependency[TokenCodec],
    ) -> TokenResponse:
        async with database.session() as session:
            user = await UserService(session).authenticate(data.email, data.password)
        if user is None:
            raise NotAuthorizedException("Invalid email or password")
        return TokenResponse(
            access_token=tokens.issue(user.id, user.organization_id), expires_in=tokens.ttl
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
        self, principal: NamedDependency[Principal], database: NamedDependency[Database]
    ) -> UserPublic | ApiKeyPrincipalPublic:
        async with database.session() as session:
            if principal.user_id is not None:
                user = await UserService(session).get(principal.organization_id, principal.user_id)
                return user_public(user)
            assert principal.api_key_id is not None
            key = await ApiKeyService(session).get(principal.organization_id, principal.api_key_id)
            return ApiKeyPrincipalPublic(
                organization_id=principal.organization_id,
                role=principal.role,
                api_key=api_key_public(key),
            )
