"""GraphQL types of the CloudTrail slice. Types build themselves from read rows and hold no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads
from api.cloudtrail.filter_types import ApiCallFilter
from api.cloudtrail.filters import CallFilter
from api.cloudtrail.lineage import Lineage
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.profile import ActivityProfile, Scoped
from api.cloudtrail.summaries import Subject
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.pagination import (
    EPOCH,
    PageInfo,
    cursor_time,
    decode_cursor,
    encode_cursor,
    page_size,
    storable_time,
)
from api.scoping import REDACTED

UNTIL = datetime(2100, 1, 1, tzinfo=UTC)

if TYPE_CHECKING:
    from api.cloudtrail.principal_types import Principal
    from api.deviations.types import Deviation
    from api.guardduty.types import Finding

PrincipalType = Annotated["Principal", strawberry.lazy("api.cloudtrail.principal_types")]
FindingType = Annotated["Finding", strawberry.lazy("api.guardduty.types")]


@strawberry.type(description="One CloudTrail record made with a credential.")
class ApiCall:
    id: strawberry.ID
    event_id: str
    event_time: datetime
    recipient_account_id: str
    aws_region: str
    event_source: str
    event_name: str
    read_only: bool
    error_code: str | None
    error_message: str | None
    source_ip_address: str
    user_agent: str
    vpc_endpoint_id: str | None
    invoked_by: str | None
    country: str | None = strawberry.field(description="ISO 3166-1 alpha-2 code of the source address.")
    city: str | None
    asn: int | None = strawberry.field(description="Autonomous system number of the source address.")
    as_org: str | None
    session_key: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: reads.ApiCall) -> ApiCall:
        return cls(
            id=strawberry.ID(f"{row.recipient_account_id}:{row.event_id}"),
            event_id=row.event_id,
            event_time=reads.utc(row.event_time),
            recipient_account_id=row.recipient_account_id,
            aws_region=row.aws_region,
            event_source=row.event_source,
            event_name=row.event_name,
            read_only=bool(row.read_only),
            error_code=row.error_code or None,
            error_message=row.error_message or None,
            source_ip_address=row.source_ip_address,
            user_agent=row.user_agent,
            vpc_endpoint_id=row.vpc_endpoint_id or None,
            invoked_by=row.invoked_by or None,
            country=row.source_country or None,
            city=row.source_city or None,
            asn=row.source_asn or None,
            as_org=row.source_as_org or None,
            session_key=row.session_key,
        )

    @field(description="The record as stored (JSON text), fetched only when asked for.")
    async def raw(self, info: Info) -> str | None:
        key = (self.session_key, self.recipient_account_id, self.event_id)
        return await info.context.loaders.raw.load(key)


@strawberry.type
class ApiCallEdge:
    node: ApiCall
    cursor: str


@strawberry.type
class ApiCallConnection:
    edges: list[ApiCallEdge]
    page_info: PageInfo


@strawberry.type(
    description="Where a chain breaks: the minting record missing from the store (whose account to ingest, "
    "which principal minted the credential, and when)."
)
class ChainGap:
    account_id: str
    role_arn: str | None
    principal_id: str | None
    time: datetime


@strawberry.type(
    description="A temporary credential (role session, federation token, session token, console session)."
)
class RoleSession(ActivityProfile):
    id: strawberry.ID
    access_key_id: str
    credential_kind: str | None
    role_arn: str | None
    session_name: str | None
    account_id: str | None
    principal_id: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None
    api_call_count: int
    error_count: int
    distinct_api_count: int
    source_ips: list[str]
    user_agents: list[str]
    regions: list[str]
    source_identity: str | None
    on_behalf_of: str | None

    @classmethod
    def build(
        cls, key: str, usage: reads.SessionUsage | None, issuance: reads.Issuance | None
    ) -> RoleSession:
        role_arn = (issuance.role_arn if issuance else "") or (usage.role_arn if usage else "")
        name = (issuance.role_session_name if issuance else "") or (usage.session_name if usage else "")
        account = (usage.account_id if usage else "") or (_account_of(role_arn) if role_arn else "")
        principal_id = usage.principal_id if usage else (issuance.assumed_role_id if issuance else "")
        if issuance:
            issued_at: datetime | None = reads.utc(issuance.issued_at)
        else:
            issued_at = _utc_or_none(usage.creation_date) if usage else None
        claimed = (usage.source_identity if usage else "") or (issuance.source_identity if issuance else "")
        return cls(
            id=strawberry.ID(key),
            access_key_id=key,
            credential_kind=issuance.credential_kind if issuance else _inferred_kind(usage),
            role_arn=role_arn or None,
            session_name=name or None,
            account_id=account or None,
            principal_id=principal_id or None,
            issued_at=issued_at,
            expires_at=_utc_or_none(issuance.expires_at) if issuance else None,
            first_seen=reads.utc(usage.first_seen) if usage else None,
            last_seen=reads.utc(usage.last_seen) if usage else None,
            api_call_count=usage.api_call_count if usage else 0,
            error_count=usage.error_count if usage else 0,
            distinct_api_count=usage.distinct_apis if usage else 0,
            source_ips=list(usage.source_ips) if usage else [],
            user_agents=list(usage.user_agents) if usage else [],
            regions=list(usage.regions) if usage else [],
            source_identity=claimed or None,
            on_behalf_of=(usage.on_behalf_of_user_id if usage else "") or None,
        )

    @field(description="Calls made with this credential, oldest first (default: its whole activity).")
    async def api_calls(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        filter: ApiCallFilter | None = None,
    ) -> ApiCallConnection:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        # The default scope is all the credential's calls (the scan is bounded by its key); a fixed
        # default lets the first pages of many sessions share one query.
        start = storable_time(from_, "from") if from_ else EPOCH
        end = storable_time(to, "to") if to else UNTIL
        if start >= end:
            raise BadRequest("`from` must be before `to`")
        filters = filter.to_filter() if filter else None
        if after is None and filters is None:
            found = await info.context.loaders.first_calls.load((self.access_key_id, start, end, size))
            return api_call_connection(found or reads.Page([], False))
        return await calls_page(info, [self.access_key_id], start, end, size, after, filters)

    @field(
        description="Every ancestor session up the chain of role assumptions, nearest first (self excluded)."
    )
    async def chain(self, info: Info) -> list[RoleSession]:
        line = await _lineage(info, self.access_key_id)
        if line is None:
            return []
        loaders = info.context.loaders
        # The walk already read the ancestors' minting records: only their usage is left to load.
        for issuance in line.issuances:
            loaders.issuance.prime(issuance.access_key_id, issuance)
        return await sessions_by_keys(info, list(line.ancestors))

    @field(
        description="The principal at the top of the chain: the human or workload behind it. When the chain "
        "has a gap, the caller account's AWS_ACCOUNT principal if known, else null."
    )
    async def origin(self, info: Info) -> PrincipalType | None:
        line = await _lineage(info, self.access_key_id)
        return await principal_from(info, line.origin if line else None)

    @field(description="Who obtained this credential: the origin of its chain (same as `origin`).")
    async def assumed_by(self, info: Info) -> PrincipalType | None:
        return await self.origin(info)

    @field(
        description="For a federation token: the federated user it was minted for (its origin is the IAM "
        "user or root whose keys minted it)."
    )
    async def federated_user(self, info: Info) -> PrincipalType | None:
        line = await _lineage(info, self.access_key_id)
        return await principal_from(info, line.federated_user if line else None)

    @field(
        description="Where the chain breaks because a minting record is not in the store (null: no break)."
    )
    async def chain_gap(self, info: Info) -> ChainGap | None:
        line = await _lineage(info, self.access_key_id)
        if line is None or line.gap is None:
            return None
        gap = line.gap
        return ChainGap(
            account_id=gap.account_id,
            role_arn=gap.role_arn or None,
            principal_id=gap.principal_id or None,
            time=reads.utc(gap.time),
        )

    @field(
        description="True when the sourceIdentity claim (free text set by the first caller) does not name "
        "the origin found through the chain: the chain is what to trust."
    )
    async def source_identity_disagrees(self, info: Info) -> bool:
        line = await _lineage(info, self.access_key_id)
        claim = self.source_identity
        if not claim or line is None or line.origin is None:
            return False
        return not claims_name(claim, line.origin)

    @field(
        description="The Identity Center user that `onBehalfOf` names, when an Identity Store export names "
        "the user id (a claim beside the origin: the session acts for this user)."
    )
    async def on_behalf_of_user(self, info: Info) -> PrincipalType | None:
        if not self.on_behalf_of:
            return None
        user = await info.context.loaders.directory_user.load(self.on_behalf_of)
        if user is None or not user.user_name:
            return None
        ref = PrincipalRef(
            PrincipalKind.IDENTITY_CENTER_USER, user.user_name, user.display_name or user.user_name
        )
        return await principal_from(info, ref)

    @field(description="Session tags passed down the chain to this credential (transitive tags).")
    async def transitive_tags(self, info: Info) -> list[SessionTag]:
        line = await _lineage(info, self.access_key_id)
        tags = line.transitive_tags if line else {}
        return [SessionTag(key=k, value=v) for k, v in sorted(tags.items())]

    @field(
        description="What is unusual about this session against its baselines (the origin in this role, the "
        "role, the account; window ROLETRAIL_BASELINE_DAYS before it), first seen in [from, to)."
    )
    async def deviations(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> list[Annotated[Deviation, strawberry.lazy("api.deviations.types")]]:
        from api.deviations.schema import session_deviations_field

        return await session_deviations_field(info, self.access_key_id, from_, to)

    @field(description="Credentials minted with this one (its children in the chain).")
    async def child_sessions(self, info: Info) -> list[RoleSession]:
        keys = await info.context.loaders.children.load(self.access_key_id) or []
        return await sessions_by_keys(info, keys)

    @field(description="GuardDuty findings that name this credential's access key, newest activity first.")
    async def findings(self, info: Info) -> list[FindingType]:
        from api.guardduty.types import session_findings

        return await session_findings(info, self.access_key_id)

    @field(
        description="Whether the credential can still be used now: its expiry is in the future, or unknown "
        "and within the longest lifetime of its kind."
    )
    def can_still_be_valid(self) -> bool:
        return can_still_be_valid(self.credential_kind, self.issued_at or self.first_seen, self.expires_at)

    # -- issue 4: account-limited tokens (api.scoping) and profile panels (ActivityProfile fields) --
    @field(
        description="True for a hop of a chain in an account the token may not read: a placeholder "
        "with no details (its key is `redacted:<n>`)."
    )
    def redacted(self) -> bool:
        return self.access_key_id.startswith(REDACTED)

    async def activity_subject(self, info: Info) -> Scoped:
        return Scoped(Subject.of_keys([] if self.redacted() else [self.access_key_id]))


@strawberry.type
class SessionTag:
    key: str
    value: str


# The longest lifetime of each kind of credential (STS limits), for credentials whose expiry is
# not in the store. Unknown kinds get the longest of all, so "can still be valid" errs on yes.
MAX_LIFETIME = {
    "AssumeRole": timedelta(hours=12),
    "AssumeRoleWithSAML": timedelta(hours=12),
    "AssumeRoleWithWebIdentity": timedelta(hours=12),
    "AssumeRoot": timedelta(minutes=15),
    "GetCredentialsForIdentity": timedelta(hours=1),
    "GetSessionToken": timedelta(hours=36),
    "GetFederationToken": timedelta(hours=36),
}
LONGEST_LIFETIME = timedelta(hours=36)


def can_still_be_valid(
    kind: str | None, issued: datetime | None, expires: datetime | None, now: datetime | None = None
) -> bool:
    now = now or datetime.now(UTC)
    if expires is not None:
        return reads.utc(expires) > now
    if issued is None:
        return True
    return reads.utc(issued) + MAX_LIFETIME.get(kind or "", LONGEST_LIFETIME) > now


def claims_name(claim: str, origin: PrincipalRef) -> bool:
    """Whether a free-text claim (sourceIdentity) names the principal."""
    names = {origin.identifier, origin.display_name, origin.identifier.rsplit("/", 1)[-1],
             origin.identifier.rsplit(":", 1)[-1]}  # fmt: skip
    names |= {name.split("@", 1)[0] for name in list(names) if "@" in name}
    wanted = claim.strip().lower()
    return wanted in {name.lower() for name in names if name} or wanted.split("@", 1)[0] in {
        name.lower() for name in names if name
    }


async def _lineage(info: Info, key: str) -> Lineage | None:
    return await info.context.loaders.lineage.load(key)


async def principal_from(info: Info, ref: PrincipalRef | None) -> Principal | None:
    if ref is None:
        return None
    from api.cloudtrail.principal_types import Principal

    return Principal.from_ref(ref)


async def session_by_key(info: Info, key: str) -> RoleSession:
    usage = await info.context.loaders.usage.load(key)
    issuance = await info.context.loaders.issuance.load(key)
    if issuance is None:
        line = await info.context.loaders.lineage.load(key)
        issuance = line.issuance if line else None
    return RoleSession.build(key, usage, issuance)


async def sessions_by_keys(info: Info, keys: list[str]) -> list[RoleSession]:
    """Sessions for keys; a key without a minting record of its own (a console session) takes the
    record its lineage found by principal and creation date."""
    loaders = info.context.loaders
    usages = await loaders.usage.load_many(keys)
    minted = list(await loaders.issuance.load_many(keys))
    missing = [i for i, issuance in enumerate(minted) if issuance is None]
    if missing:
        lines = await loaders.lineage.load_many([keys[i] for i in missing])
        for i, line in zip(missing, lines, strict=True):
            minted[i] = line.issuance if line else None
    return [RoleSession.build(key, u, i) for key, u, i in zip(keys, usages, minted, strict=True)]


async def calls_page(
    info: Info, keys: Sequence[str], start: datetime, end: datetime, size: int, after: str | None,
    filters: CallFilter | None = None,
) -> ApiCallConnection:  # fmt: skip
    """A page of the calls made with `keys` in [start, end), oldest first, of the accounts the
    token may read; `after` is a cursor of an earlier page."""
    if not keys:
        return api_call_connection(reads.Page([], False))
    page = await run_in_threadpool(
        reads.api_calls, info.context.store, keys, start=start, end=end, first=size,
        after=call_position(after), accounts=info.context.accounts, filters=filters,
    )  # fmt: skip
    return api_call_connection(page)


def api_call_connection(page: reads.Page[reads.ApiCall]) -> ApiCallConnection:
    edges = [
        ApiCallEdge(
            node=ApiCall.from_row(row),
            cursor=encode_cursor("call", row.event_time, row.recipient_account_id, row.event_id),
        )
        for row in page.items
    ]
    end_cursor = edges[-1].cursor if edges else None
    return ApiCallConnection(
        edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor)
    )


def call_position(after: str | None) -> tuple[datetime, str, str] | None:
    cursor = decode_cursor("call", after, 3)
    return (cursor_time(cursor[0]), str(cursor[1]), str(cursor[2])) if cursor else None


@strawberry.type
class RoleSessionEdge:
    node: RoleSession
    cursor: str


@strawberry.type
class RoleSessionConnection:
    edges: list[RoleSessionEdge]
    page_info: PageInfo


def _inferred_kind(usage: reads.SessionUsage | None) -> str | None:
    if usage is None:
        return None
    if usage.identity_type == "FederatedUser":
        return "GetFederationToken"
    # An IAM user's or root's key with no minting record is a console or a session-token key:
    # which one, its calls do not say.
    return None


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else reads.utc(value)
