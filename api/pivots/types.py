"""GraphQL types of the pivots: an access key, an IP address, a resource, and what they share.

`CallSet` is any set of calls found by something other than a credential (an address, a
resource name, a long-term key): its calls as a connection, the credentials and principals behind
them, and the profile panels of ActivityProfile. Another source adds fields to `IpAddress` (flow
logs: the instances that talked to it) by adding resolvers to that class.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads
from api.cloudtrail.filter_types import ApiCallFilter
from api.cloudtrail.filters import CallFilter
from api.cloudtrail.principal_types import Principal
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.profile import ActivityProfile, From, Scoped, resolve_scope
from api.cloudtrail.summaries import Subject
from api.cloudtrail.types import (
    UNTIL,
    ApiCallConnection,
    RoleSession,
    api_call_connection,
    call_position,
    session_by_key,
    sessions_by_keys,
)
from api.context import Info
from api.fields import field
from api.flowlogs.schema import address_talkers
from api.flowlogs.types import AddressTalker
from api.pagination import EPOCH, page_size
from api.pivots import reads as pivot_reads
from api.scoping import allows, visible_keys

# Credentials read to group a pivot's calls by principal (the most active first).
MAX_CREDENTIALS = 1000


def long_term_principal(identity_type: str, arn: str, account: str) -> PrincipalRef | None:
    """Whose long-term key made a call: an IAM user or root, from the call's own identity."""
    if identity_type == "IAMUser" and arn:
        return PrincipalRef(PrincipalKind.IAM_USER, arn, arn.rsplit("/", 1)[-1], account)
    if identity_type == "Root":
        return PrincipalRef(PrincipalKind.ROOT, f"arn:aws:iam::{account}:root", f"root ({account})", account)
    return None


@strawberry.type(description="One credential's share of a set of calls.")
class CredentialActivity:
    access_key_id: str
    long_term: bool = strawberry.field(description="A long-term key (IAM user or root), not temporary.")
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime
    identity_type: strawberry.Private[str]
    identity_arn: strawberry.Private[str]
    account_id: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: pivot_reads.KeyActivity) -> CredentialActivity:
        return cls(
            access_key_id=row.key,
            long_term=not row.temporary,
            calls=row.calls,
            errors=row.errors,
            first_seen=reads.utc(row.first_seen),
            last_seen=reads.utc(row.last_seen),
            identity_type=row.identity_type,
            identity_arn=row.identity_arn,
            account_id=row.account_id,
        )

    @field(description="The temporary credential (null for a long-term key).")
    async def session(self, info: Info) -> RoleSession | None:
        return None if self.long_term else await session_by_key(info, self.access_key_id)

    @field(description="Who is behind the credential: the origin of its chain, or the key's owner.")
    async def principal(self, info: Info) -> Principal | None:
        ref = await self.principal_ref(info)
        return Principal.from_ref(ref) if ref else None

    async def principal_ref(self, info: Info) -> PrincipalRef | None:
        if self.long_term:
            return long_term_principal(self.identity_type, self.identity_arn, self.account_id)
        line = await info.context.loaders.lineage.load(self.access_key_id)
        return line.origin if line else None


@strawberry.type(description="A principal's share of a set of calls, over all its credentials there.")
class PrincipalActivity:
    principal: Principal
    credential_count: int
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class _Group:
    ref: PrincipalRef
    members: list[CredentialActivity]


@strawberry.interface(
    description="Calls found by something other than one credential (an access key, an address, a "
    "resource): the calls, the credentials and principals behind them, and their profile."
)
class CallSet(ActivityProfile):
    subject: strawberry.Private[Subject]
    start: strawberry.Private[datetime]
    end: strawberry.Private[datetime]

    async def activity_subject(self, info: Info) -> Scoped:
        return Scoped(self.subject, self.start, self.end)

    @field(description="The calls, oldest first.")
    async def api_calls(
        self, info: Info, first: int | None = None, after: str | None = None, from_: From = None,
        to: datetime | None = None, filter: ApiCallFilter | None = None,
    ) -> ApiCallConnection:  # fmt: skip
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        start, end = resolve_scope(await self.activity_subject(info), from_, to)
        where, params = self.subject.where(start, end, info.context.accounts)
        conditions = [where, (filter.to_filter() if filter else CallFilter()).sql(params)]
        page = await run_in_threadpool(
            reads.calls_where, info.context.store, conditions, params, size, call_position(after)
        )
        return api_call_connection(page)

    async def _credentials(
        self, info: Info, limit: int, from_: datetime | None, to: datetime | None
    ) -> list[CredentialActivity]:
        start, end = resolve_scope(await self.activity_subject(info), from_, to)
        store, accounts = info.context.store, info.context.accounts
        rows = await run_in_threadpool(pivot_reads.keys_of, store, self.subject, start, end, limit, accounts)
        # A credential of an account the token may not read is left out, though its call was logged
        # in one it may (cross-account access).
        visible = await run_in_threadpool(visible_keys, store, [r.key for r in rows], accounts)
        return [CredentialActivity.from_row(r) for r in rows if r.key in visible]

    @field(description="The credentials that made the calls, most calls first.")
    async def credentials(
        self, info: Info, first: int | None = None, from_: From = None, to: datetime | None = None
    ) -> list[CredentialActivity]:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        # For a token limited to accounts, hidden credentials are dropped after the read: read more.
        limit = size if info.context.accounts is None else MAX_CREDENTIALS
        return (await self._credentials(info, limit, from_, to))[:size]

    @field(
        description="Who made the calls (the origins of the temporary credentials, the owners of the "
        "long-term keys), most calls first; over the 1000 most active credentials."
    )
    async def principals(
        self, info: Info, first: int | None = None, from_: From = None, to: datetime | None = None
    ) -> list[PrincipalActivity]:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        groups: dict[tuple[str, str], _Group] = {}
        credentials = await self._credentials(info, MAX_CREDENTIALS, from_, to)
        # Together, so that the lineage loader resolves every chain in one batch per level.
        refs = await asyncio.gather(*(credential.principal_ref(info) for credential in credentials))
        for credential, ref in zip(credentials, refs, strict=True):
            if ref is not None:
                group = groups.setdefault((ref.kind.value, ref.identifier), _Group(ref, []))
                group.members.append(credential)
        found = [
            PrincipalActivity(
                principal=Principal.from_ref(g.ref),
                credential_count=len(g.members),
                calls=sum(m.calls for m in g.members),
                errors=sum(m.errors for m in g.members),
                first_seen=min(m.first_seen for m in g.members),
                last_seen=max(m.last_seen for m in g.members),
            )
            for g in groups.values()
        ]
        found.sort(key=lambda p: (-p.calls, p.principal.identifier))
        return found[:size]


@strawberry.type(
    description="An IP address (or the service name CloudTrail gives as source): who called from it."
)
class IpAddress(CallSet):
    id: strawberry.ID
    address: str

    @classmethod
    def of(cls, address: str, start: datetime, end: datetime) -> IpAddress:
        return cls(
            id=strawberry.ID(f"ip:{address}"), address=address, subject=pivot_reads.ip_subject(address),
            start=start, end=end,
        )  # fmt: skip

    @field(
        description="Network interfaces and EC2 instances that exchanged traffic with this address "
        "(VPC Flow Logs rollups), most bytes first."
    )
    async def talkers(
        self, info: Info, first: int | None = None, from_: From = None, to: datetime | None = None
    ) -> list[AddressTalker]:
        found = await address_talkers(info, self.address, from_ or self.start, to or self.end, first)
        return [t for t in found if allows(info.context.accounts, t.account_id)]


@strawberry.type(
    description="A resource (bucket, secret, role, instance... by ARN or name): who touched it, from "
    "the records' `resources[]` and request parameters."
)
class Resource(CallSet):
    id: strawberry.ID
    identifier: str

    @classmethod
    def of(cls, identifier: str, start: datetime, end: datetime) -> Resource:
        return cls(
            id=strawberry.ID(f"resource:{identifier}"), identifier=identifier,
            subject=pivot_reads.resource_subject(identifier), start=start, end=end,
        )  # fmt: skip


@strawberry.type(description="A CreateAccessKey, DeleteAccessKey or UpdateAccessKey record about a key.")
class AccessKeyEvent:
    event_time: datetime
    event_name: str
    event_id: str
    recipient_account_id: str
    actor_arn: str | None = strawberry.field(description="Who made the call.")
    user_name: str | None = strawberry.field(description="The user whose key it is, as the call names it.")
    status: str | None = strawberry.field(description="For UpdateAccessKey: Active or Inactive.")
    error_code: str | None

    @classmethod
    def from_row(cls, row: pivot_reads.KeyEvent) -> AccessKeyEvent:
        return cls(
            event_time=reads.utc(row.event_time), event_name=row.event_name, event_id=row.event_id,
            recipient_account_id=row.recipient_account_id, actor_arn=row.actor_arn or None,
            user_name=row.user_name or None, status=row.status or None, error_code=row.error_code or None,
        )  # fmt: skip


@strawberry.type(
    description="An access key (long-term AKIA… keys above all): whose it is, when it was created, "
    "deactivated and deleted, and every use."
)
class AccessKey(CallSet):
    id: strawberry.ID
    access_key_id: str
    long_term: bool
    account_id: str | None
    user_name: str | None
    first_used: datetime | None
    last_used: datetime | None
    api_call_count: int
    error_count: int
    lifecycle: list[AccessKeyEvent] = strawberry.field(
        description="The records that created, (de)activated and deleted the key, oldest first."
    )
    owner_ref: strawberry.Private[PrincipalRef | None]

    @classmethod
    def build(
        cls, key: str, usage: pivot_reads.KeyUsage | None, events: list[pivot_reads.KeyEvent],
        owner: PrincipalRef | None,
    ) -> AccessKey:  # fmt: skip
        created = next((e for e in events if e.event_name == "CreateAccessKey" and not e.error_code), None)
        account = (usage.account_id if usage else "") or (created.recipient_account_id if created else "")
        user = (usage.user_name if usage else "") or (created.user_name if created else "")
        return cls(
            id=strawberry.ID(key), access_key_id=key, long_term=key.startswith("AKIA"),
            account_id=account or None, user_name=user or None,
            first_used=reads.utc(usage.first_seen) if usage else None,
            last_used=reads.utc(usage.last_seen) if usage else None,
            api_call_count=usage.calls if usage else 0, error_count=usage.errors if usage else 0,
            lifecycle=[AccessKeyEvent.from_row(e) for e in events], owner_ref=owner,
            subject=Subject.of_keys([key]), start=EPOCH, end=UNTIL,
        )  # fmt: skip

    def _first(self, name: str) -> AccessKeyEvent | None:
        return next((e for e in self.lifecycle if e.event_name == name and not e.error_code), None)

    @field(description="The IAM user (or root) the key belongs to.")
    def owner(self) -> Principal | None:
        return Principal.from_ref(self.owner_ref) if self.owner_ref else None

    @field(description="When CreateAccessKey made it (null when that record is not in the store).")
    def created_at(self) -> datetime | None:
        event = self._first("CreateAccessKey")
        return event.event_time if event else None

    @field(description="When DeleteAccessKey removed it (null: not deleted, as far as the store knows).")
    def deleted_at(self) -> datetime | None:
        event = self._first("DeleteAccessKey")
        return event.event_time if event else None

    @field(description="Deleted, else the status the last successful UpdateAccessKey set, else Active.")
    def status(self) -> str:
        if self._first("DeleteAccessKey"):
            return "Deleted"
        updates = [e for e in self.lifecycle if e.event_name == "UpdateAccessKey" and not e.error_code]
        return (updates[-1].status or "Active") if updates else "Active"

    @field(description="Temporary credentials minted with this key (GetSessionToken, AssumeRole...).")
    async def minted_sessions(self, info: Info) -> list[RoleSession]:
        keys = await info.context.loaders.children.load(self.access_key_id) or []
        return await sessions_by_keys(info, keys)
