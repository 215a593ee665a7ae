"""Token management over GraphQL (admin tokens that are not limited to accounts): `apiTokens`,
`createApiToken` and `revokeApiToken`. The store and the cache are api.token_store's.

A secret is answered once, by `createApiToken`; nothing lists secrets or their hashes.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.context import Info
from api.errors import BadRequest, Forbidden
from api.fields import field
from api.permissions import ADMIN, READ, ApiToken
from api.token_store import ManagedToken, ManagedTokens, TokenRefused, stored_tokens


@strawberry.enum(
    description="What a token may do: READ queries and exports; ADMIN also ingests and manages tokens."
)
class ApiTokenScope(Enum):
    READ = READ
    ADMIN = ADMIN


@strawberry.enum(description="Where a token comes from.")
class ApiTokenOrigin(Enum):
    CONFIGURED = "configured"  # ROLETRAIL_API_TOKENS or the data directory's token file
    MANAGED = "managed"  # createApiToken


@strawberry.type(name="ApiToken", description="An API token, without its secret.")
class ApiTokenInfo:
    id: strawberry.ID = strawberry.field(description="The token's name.")
    name: str
    scope: ApiTokenScope
    origin: ApiTokenOrigin
    account_ids: list[str] = strawberry.field(
        description="The AWS accounts it may read; empty: every account."
    )
    created_at: datetime | None = strawberry.field(description="Null for configured tokens.")
    created_by: str | None = strawberry.field(description="The name of the admin token that created it.")
    revoked_at: datetime | None = strawberry.field(description="Null while the token works.")
    revoked_by: str | None

    @classmethod
    def from_managed(cls, token: ManagedToken) -> ApiTokenInfo:
        return cls(
            id=strawberry.ID(token.name),
            name=token.name,
            scope=ApiTokenScope(token.scope),
            origin=ApiTokenOrigin.MANAGED,
            account_ids=list(token.accounts),
            created_at=token.created_at,
            created_by=token.created_by,
            revoked_at=token.revoked_at,
            revoked_by=token.revoked_by or None,
        )

    @classmethod
    def from_configured(cls, token: ApiToken) -> ApiTokenInfo:
        return cls(
            id=strawberry.ID(token.name),
            name=token.name,
            scope=ApiTokenScope(token.scope),
            origin=ApiTokenOrigin.CONFIGURED,
            account_ids=sorted(token.accounts or ()),
            created_at=None,
            created_by=None,
            revoked_at=None,
            revoked_by=None,
        )


@strawberry.type(description="A token just created, with its secret: shown this once and never again.")
class CreatedApiToken:
    token: ApiTokenInfo
    secret: str = strawberry.field(description="Present it as `Authorization: Bearer <secret>`.")


def _manager(info: Info) -> ManagedTokens:
    context = info.context
    if context.token_scope != ADMIN:
        raise Forbidden(
            f"token {context.token_name!r} has scope 'read'; token management needs an admin token"
        )
    if context.accounts is not None:
        raise Forbidden(
            f"token {context.token_name!r} is limited to accounts; token management needs an admin token "
            "that sees every account"
        )
    if context.tokens is None:
        raise Forbidden("token management is not available on this server")
    return context.tokens


@strawberry.type
class Query:
    @field(
        description="Every API token, configured and managed (revoked ones too), by name; admin tokens only."
    )
    async def api_tokens(self, info: Info) -> list[ApiTokenInfo]:
        manager = _manager(info)
        managed = await run_in_threadpool(stored_tokens, manager.store)
        listed = [ApiTokenInfo.from_configured(t) for t in manager.configured_tokens]
        listed += [ApiTokenInfo.from_managed(t) for t in managed if t.name not in manager.configured]
        return sorted(listed, key=lambda t: t.name)


@strawberry.type
class Mutation:
    @field(
        description="Create a token (admin tokens only). `accountIds` limits what it may read (empty: every "
        "account). The answer holds the secret: it is not kept and cannot be shown again."
    )
    async def create_api_token(
        self,
        info: Info,
        name: str,
        scope: ApiTokenScope,
        account_ids: Annotated[
            list[str] | None, strawberry.argument(description="12-digit AWS account ids; null or empty: all.")
        ] = None,
    ) -> CreatedApiToken:
        manager = _manager(info)
        try:
            created = await run_in_threadpool(
                manager.create,
                name,
                READ if scope is ApiTokenScope.READ else ADMIN,
                account_ids or (),
                info.context.token_name,
            )
        except TokenRefused as refused:
            raise BadRequest(str(refused)) from None
        return CreatedApiToken(token=ApiTokenInfo.from_managed(created.token), secret=created.secret)

    @field(
        description="Revoke a managed token (admin tokens only): it is refused from now on by this server, "
        "and by every other API process within ROLETRAIL_TOKEN_CACHE_SECONDS."
    )
    async def revoke_api_token(self, info: Info, name: str) -> ApiTokenInfo:
        manager = _manager(info)
        try:
            revoked = await run_in_threadpool(manager.revoke, name, info.context.token_name)
        except TokenRefused as refused:
            raise BadRequest(str(refused)) from None
        return ApiTokenInfo.from_managed(revoked)
