"""GraphQL types of the CloudTrail slice. Types build themselves from read rows and hold no SQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads
from api.cloudtrail.principals import PrincipalKind, PrincipalRef, caller_principal
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.pagination import PageInfo, cursor_time, decode_cursor, encode_cursor, page_size, storable_time

PrincipalKindEnum = strawberry.enum(PrincipalKind, name="PrincipalKind")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@strawberry.interface(description="Whoever is behind credentials: a person, a workload or an account.")
class Principal:
    id: strawberry.ID
    kind: PrincipalKindEnum  # type: ignore[valid-type]
    identifier: str
    display_name: str | None
    account_id: str | None

    @classmethod
    def from_ref(cls, ref: PrincipalRef) -> Principal:
        impl = _PRINCIPAL_TYPES[ref.kind]
        return impl(
            id=strawberry.ID(f"{ref.kind.value}:{ref.identifier}"),
            kind=ref.kind,
            identifier=ref.identifier,
            display_name=ref.display_name or None,
            account_id=ref.account_id or None,
        )


@strawberry.type
class IamUser(Principal):
    pass


@strawberry.type
class RootUser(Principal):
    pass


@strawberry.type
class SamlUser(Principal):
    pass


@strawberry.type
class IdentityCenterUser(Principal):
    pass


@strawberry.type
class WebIdentityUser(Principal):
    pass


@strawberry.type
class FederationTokenUser(Principal):
    pass


@strawberry.type
class Ec2Instance(Principal):
    pass


@strawberry.type
class LambdaFunction(Principal):
    pass


@strawberry.type
class EcsTask(Principal):
    pass


@strawberry.type
class AwsService(Principal):
    pass


@strawberry.type
class AwsAccount(Principal):
    pass


@strawberry.type
class UnknownPrincipal(Principal):
    pass


_PRINCIPAL_TYPES: dict[PrincipalKind, type[Principal]] = {
    PrincipalKind.IAM_USER: IamUser,
    PrincipalKind.ROOT: RootUser,
    PrincipalKind.SAML_USER: SamlUser,
    PrincipalKind.IDENTITY_CENTER_USER: IdentityCenterUser,
    PrincipalKind.WEB_IDENTITY_USER: WebIdentityUser,
    PrincipalKind.FEDERATION_TOKEN_USER: FederationTokenUser,
    PrincipalKind.EC2_INSTANCE: Ec2Instance,
    PrincipalKind.LAMBDA_FUNCTION: LambdaFunction,
    PrincipalKind.ECS_TASK: EcsTask,
    PrincipalKind.AWS_SERVICE: AwsService,
    PrincipalKind.AWS_ACCOUNT: AwsAccount,
    PrincipalKind.UNKNOWN: UnknownPrincipal,
}
ALL_PRINCIPAL_TYPES = tuple(_PRINCIPAL_TYPES.values())


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
    session_key: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: reads.ApiCall) -> ApiCall:
        return cls(
            id=strawberry.ID(f"{row.recipient_account_id}:{row.event_id}"),
            event_id=row.event_id,
            event_time=_utc(row.event_time),
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
class RoleSession:
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
            issued_at: datetime | None = _utc(issuance.issued_at)
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
            first_seen=_utc(usage.first_seen) if usage else None,
            last_seen=_utc(usage.last_seen) if usage else None,
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
    ) -> ApiCallConnection:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        start = storable_time(from_, "from") if from_ else (self.first_seen or EPOCH)
        last = self.last_seen or datetime.now(UTC)
        end = storable_time(to, "to") if to else last + timedelta(seconds=1)
        if from_ and to and start >= end:
            raise BadRequest("`from` must be before `to`")
        cursor = decode_cursor("call", after, 3)
        position = (cursor_time(cursor[0]), str(cursor[1]), str(cursor[2])) if cursor else None
        page = await run_in_threadpool(
            reads.api_calls,
            info.context.store,
            self.access_key_id,
            start=start,
            end=end,
            first=size,
            after=position,
        )
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

    @field(
        description="Every ancestor session up the chain of role assumptions, nearest first (self excluded)."
    )
    async def chain(self, info: Info) -> list[RoleSession]:
        loaders = info.context.loaders
        issuances = await loaders.chain.load(self.access_key_id) or []
        parents: list[str] = []
        for issuance in issuances:
            parent = issuance.caller_session_key
            if issuance.caller_is_session and parent not in ("", self.access_key_id, *parents):
                parents.append(parent)
        # The chain walk already read the ancestors' minting records: only their usage is left to load.
        for issuance in issuances:
            loaders.issuance.prime(issuance.access_key_id, issuance)
        usages = await loaders.usage.load_many(parents)
        minted = await loaders.issuance.load_many(parents)
        return [RoleSession.build(key, u, i) for key, u, i in zip(parents, usages, minted, strict=True)]

    @field(description="The principal at the top of the chain: the human or workload behind it.")
    async def origin(self, info: Info) -> Principal | None:
        return await _origin(info, self.access_key_id)

    @field(description="Who obtained this credential: the origin of its chain (same as `origin`).")
    async def assumed_by(self, info: Info) -> Principal | None:
        return await _origin(info, self.access_key_id)

    @field(description="Where the chain breaks because a minting record is not in the store.")
    async def chain_gap(self, info: Info) -> ChainGap | None:
        issuances = await info.context.loaders.chain.load(self.access_key_id) or []
        if not issuances:
            # This role session's own minting record is missing (or was never logged with its key,
            # as for Identity Center sessions): the chain breaks right here.
            usage = await info.context.loaders.usage.load(self.access_key_id)
            if usage is None or usage.identity_type != "AssumedRole":
                return None
            return ChainGap(
                account_id=usage.account_id,
                role_arn=usage.role_arn or None,
                principal_id=usage.principal_id or None,
                time=_utc(usage.creation_date or usage.first_seen),
            )
        top = issuances[-1]
        if top.caller_is_session:
            # The parent session's own minting record is missing: the gap is where it was minted,
            # at its creation date when its calls are in the store.
            parent = await info.context.loaders.usage.load(top.caller_session_key)
            minted = parent.creation_date if parent and parent.creation_date else top.issued_at
            return ChainGap(
                account_id=top.caller_account_id or (parent.account_id if parent else ""),
                role_arn=(parent.role_arn if parent else "") or None,
                principal_id=top.caller_principal_id or None,
                time=_utc(minted),
            )
        if top.caller_identity_type == "AWSAccount":
            return ChainGap(
                account_id=top.caller_account_id,
                role_arn=None,
                principal_id=top.caller_principal_id or None,
                time=_utc(top.issued_at),
            )
        return None


async def _origin(info: Info, key: str) -> Principal | None:
    issuances = await info.context.loaders.chain.load(key) or []
    if not issuances:
        return None
    ref = caller_principal(issuances[-1])
    return Principal.from_ref(ref) if ref else None


async def session_by_key(info: Info, key: str) -> RoleSession:
    usage = await info.context.loaders.usage.load(key)
    issuance = await info.context.loaders.issuance.load(key)
    return RoleSession.build(key, usage, issuance)


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
    if usage.identity_type in ("IAMUser", "Root"):
        return "GetSessionToken"
    return None


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)
