"""Root fields of the pivots: an access key, an IP address, a resource."""

from __future__ import annotations

from datetime import datetime

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.profile import From
from api.cloudtrail.schema import MAX_KEY_LENGTH, scope
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.pivots import reads as pivot_reads
from api.pivots.types import AccessKey, IpAddress, Resource, long_term_principal
from api.scoping import visible_keys


def bounded(value: str, name: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH:
        raise BadRequest(f"{name} must be 1 to {MAX_KEY_LENGTH} characters")
    return value


async def _owner(
    info: Info, key: str, usage: pivot_reads.KeyUsage | None, events: list[pivot_reads.KeyEvent]
) -> PrincipalRef | None:
    if usage is not None:
        if usage.identity_type in ("IAMUser", "Root"):
            return long_term_principal(usage.identity_type, usage.identity_arn, usage.account_id)
        line = await info.context.loaders.lineage.load(key)
        return line.origin if line else None
    created = next((e for e in events if e.event_name == "CreateAccessKey" and not e.error_code), None)
    if created is None or not created.user_name:
        return None
    account, name = created.recipient_account_id, created.user_name
    # The user's ARN holds its path, which the CreateAccessKey record does not give: take it from
    # the user's own minting calls when there are any, else assume the root path.
    arn = await run_in_threadpool(pivot_reads.user_arn, info.context.store, account, name)
    return PrincipalRef(PrincipalKind.IAM_USER, arn or f"arn:aws:iam::{account}:user/{name}", name, account)


async def find_access_key(info: Info, key: str) -> AccessKey | None:
    """The access key when the store has a call made with it or a record about it (and the token
    may see it)."""
    store, accounts = info.context.store, info.context.accounts
    usage = await run_in_threadpool(pivot_reads.key_usage, store, key, accounts)
    events = await run_in_threadpool(pivot_reads.key_lifecycle, store, key, accounts)
    if usage is None and not events:
        return None
    if usage is not None and not await run_in_threadpool(visible_keys, store, [key], accounts):
        return None
    return AccessKey.build(key, usage, events, await _owner(info, key, usage, events))


@strawberry.type
class Query:
    @field(
        description="An access key by id (long-term AKIA… keys above all; temporary keys too): its "
        "owner, creation, deactivation and deletion, and every use. Null when the store has neither a "
        "call made with it nor a record about it."
    )
    async def access_key(self, info: Info, id: str) -> AccessKey | None:
        return await find_access_key(info, bounded(id, "id"))

    @field(
        description="An IP address (or a service name, as CloudTrail's sourceIPAddress gives it): who "
        "called from it in the scope (default: the last 90 days)."
    )
    async def ip_address(
        self, info: Info, address: str, from_: From = None, to: datetime | None = None
    ) -> IpAddress:
        start, end = scope(info, from_, to)
        return IpAddress.of(bounded(address, "address"), start, end)

    @field(
        description="A resource by ARN or name (bucket, secret, role, instance...): the calls that named "
        "it in `resources[]` or in their request parameters, in the scope (default: the last 90 days)."
    )
    async def resource(
        self, info: Info, identifier: str, from_: From = None, to: datetime | None = None
    ) -> Resource:
        start, end = scope(info, from_, to)
        return Resource.of(bounded(identifier, "identifier"), start, end)
