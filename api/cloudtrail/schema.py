"""Root fields of the CloudTrail slice: thin resolvers that validate, read and map to types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads
from api.cloudtrail.principal_types import Ec2Instance, IamRole, Principal, PrincipalKindEnum
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.types import RoleSession, RoleSessionConnection, RoleSessionEdge, session_by_key
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.instances.schema import instance_without_sessions
from api.pagination import PageInfo, cursor_time, decode_cursor, encode_cursor, page_size, storable_time

MAX_KEY_LENGTH = 512


def scope(info: Info, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """A time scope: defaults to the last ROLETRAIL_DEFAULT_SCOPE_DAYS days up to now."""
    end = storable_time(end, "to") if end else datetime.now(UTC) + timedelta(minutes=1)
    if start is None:
        start = max(
            end - timedelta(days=info.context.settings.default_scope_days), datetime(1970, 1, 1, tzinfo=UTC)
        )
    start = storable_time(start, "from")
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return start, end


@strawberry.type
class Query:
    @field(description="A temporary credential by its access key (or fallback session key).")
    async def session(self, info: Info, access_key_id: str) -> RoleSession | None:
        key = access_key_id.strip()
        if not key or len(key) > MAX_KEY_LENGTH:
            raise BadRequest(f"accessKeyId must be 1 to {MAX_KEY_LENGTH} characters")
        session = await session_by_key(info, key)
        if session.first_seen is None and session.issued_at is None:
            return None
        return session

    @field(description="Sessions active in a time scope (default: the last 90 days), newest first.")
    async def sessions(
        self,
        info: Info,
        account_id: str | None = None,
        role_arn: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> RoleSessionConnection:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        start, end = scope(info, from_, to)
        cursor = decode_cursor("session", after, 2)
        position = (cursor_time(cursor[0]), str(cursor[1])) if cursor else None
        page = await run_in_threadpool(
            reads.list_sessions,
            info.context.store,
            account_id=account_id,
            role_arn=role_arn,
            start=start,
            end=end,
            first=size,
            after=position,
            accounts=info.context.accounts,
        )
        issuances = await info.context.loaders.issuance.load_many([u.session_key for u in page.items])
        shown = {u.session_key: u for u in page.items}
        if info.context.accounts is not None:
            # A limited token's nodes count only the calls it may see (api.scoping); the cursors
            # keep the listing's order, which is the rollup's.
            shown = await run_in_threadpool(
                reads.visible_usage, info.context.store, shown, info.context.accounts
            )
        edges = []
        for usage, issuance in zip(page.items, issuances, strict=True):
            node = shown[usage.session_key]
            info.context.loaders.usage.prime(usage.session_key, node)
            edges.append(
                RoleSessionEdge(
                    node=RoleSession.build(usage.session_key, node, issuance),
                    cursor=encode_cursor("session", usage.first_seen, usage.session_key),
                )
            )
        end_cursor = edges[-1].cursor if edges else None
        return RoleSessionConnection(
            edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor)
        )

    @field(
        description="A principal by kind and canonical identifier (or a bare name, subject or identity id "
        "when it is unambiguous); null when unknown or ambiguous."
    )
    async def principal(
        self,
        info: Info,
        kind: PrincipalKindEnum,  # type: ignore[valid-type]
        identifier: str,
    ) -> Principal | None:
        wanted = kind if isinstance(kind, PrincipalKind) else PrincipalKind(kind)
        return await find_principal(info, wanted, _bounded(identifier, "identifier"))

    @field(
        description="An EC2 instance by id: its instance-profile sessions (every re-issued key) and calls."
    )
    async def instance(self, info: Info, id: str) -> Ec2Instance | None:
        found = await find_principal(info, PrincipalKind.EC2_INSTANCE, _bounded(id, "id"))
        if found is None:
            # An instance known only from flow logs, an inventory or findings (no sessions yet).
            found = await instance_without_sessions(info, id.strip())
        return found if isinstance(found, Ec2Instance) else None

    @field(description="An IAM role by ARN: its sessions and who used it, across accounts.")
    async def role(self, info: Info, arn: str) -> IamRole | None:
        arn = _bounded(arn, "arn")
        found = await info.context.loaders.role.load(arn)
        return IamRole.of(arn) if found and found.keys else None


def _bounded(value: str, name: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH:
        raise BadRequest(f"{name} must be 1 to {MAX_KEY_LENGTH} characters")
    return value


async def find_principal(info: Info, kind: PrincipalKind, identifier: str) -> Principal | None:
    """The principal when the store knows it: by canonical identifier, else by an unambiguous bare name."""
    loaders = info.context.loaders
    found = await loaders.principal.load((kind.value, identifier))
    direct = 0
    if not (found and found.keys):
        candidates = await run_in_threadpool(
            reads.canonical_identifiers, info.context.store, kind.value, identifier
        )
        if len(candidates) == 1 and candidates[0] != identifier:
            identifier = candidates[0]
            found = await loaders.principal.load((kind.value, identifier))
    if found and found.keys:
        for line in found.lineages.values():
            ref = line.federated_user if kind is PrincipalKind.FEDERATION_TOKEN_USER else line.origin
            if ref is not None:
                return Principal.from_ref(ref)
    if kind in (PrincipalKind.IAM_USER, PrincipalKind.ROOT):
        start, end = datetime(1970, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=1)
        direct = await run_in_threadpool(
            reads.direct_call_count,
            info.context.store,
            kind.value,
            identifier,
            start,
            end,
            info.context.accounts,
        )
    if direct:
        parts = identifier.split(":")
        account = parts[4] if len(parts) > 4 else ""
        return Principal.from_ref(PrincipalRef(kind, identifier, identifier.rsplit("/", 1)[-1], account))
    return None
