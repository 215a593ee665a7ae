"""Principals and roles in GraphQL: who is behind credentials, and who used a role.

A principal's fields are computed from its credentials (attribution.principal_credentials),
loaded once per request and only when a field that needs them is asked for.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads
from api.cloudtrail.attribution import PrincipalCredentials
from api.cloudtrail.filter_types import ApiCallFilter
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.profile import ActivityProfile, Scoped
from api.cloudtrail.summaries import Subject
from api.cloudtrail.types import (
    ApiCallConnection,
    RoleSession,
    RoleSessionConnection,
    RoleSessionEdge,
    calls_page,
    can_still_be_valid,
    sessions_by_keys,
)
from api.context import Info
from api.deviations.types import Deviation
from api.fields import field
from api.instances.types import InstanceFields, instance_network_deviations
from api.pagination import (
    PageInfo,
    cursor_time,
    decode_cursor,
    encode_cursor,
    open_scope,
    page_size,
)

if TYPE_CHECKING:
    from api.guardduty.types import FindingConnection

PrincipalKindEnum = strawberry.enum(PrincipalKind, name="PrincipalKind")
FindingConnectionType = Annotated["FindingConnection", strawberry.lazy("api.guardduty.types")]
From = Annotated[datetime | None, strawberry.argument(name="from")]


async def _usages(info: Info, keys: tuple[str, ...]) -> list[tuple[str, reads.SessionUsage | None]]:
    usages = await info.context.loaders.usage.load_many(list(keys))
    return list(zip(keys, usages, strict=True))


async def _spans(info: Info, keys: tuple[str, ...]) -> list[tuple[str, datetime, datetime]]:
    """When each credential was in use: its calls' first and last times, or, for a credential
    minted and never used, its issue time."""
    usages = await _usages(info, keys)
    unused = [key for key, usage in usages if usage is None]
    minted = dict(zip(unused, await info.context.loaders.issuance.load_many(unused), strict=True))
    spans = []
    for key, usage in usages:
        if usage is not None:
            spans.append((key, reads.utc(usage.first_seen), reads.utc(usage.last_seen)))
        elif (issuance := minted.get(key)) is not None:
            spans.append((key, reads.utc(issuance.issued_at), reads.utc(issuance.issued_at)))
    return spans


def _overlaps(span: tuple[str, datetime, datetime], start: datetime, end: datetime) -> bool:
    return span[2] >= start and span[1] < end


async def _session_connection(
    info: Info, keys: tuple[str, ...], first: int | None, after: str | None, start: datetime, end: datetime,
    scoped: bool,
) -> RoleSessionConnection:  # fmt: skip
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    cursor = decode_cursor("psession", after, 2)
    spans = [span for span in await _spans(info, keys) if not scoped or _overlaps(span, start, end)]
    ordered = sorted(((span[1], span[0]) for span in spans), reverse=True)
    if cursor:
        position = (cursor_time(cursor[0]), str(cursor[1]))
        ordered = [item for item in ordered if item < position]
    page = ordered[:size]
    nodes = await sessions_by_keys(info, [key for _time, key in page])
    edges = [
        RoleSessionEdge(node=node, cursor=encode_cursor("psession", time, key))
        for (time, key), node in zip(page, nodes, strict=True)
    ]
    end_cursor = edges[-1].cursor if edges else None
    return RoleSessionConnection(
        edges=edges, page_info=PageInfo(has_next_page=len(ordered) > size, end_cursor=end_cursor)
    )


@strawberry.interface(description="Whoever is behind credentials: a person, a workload or an account.")
class Principal(ActivityProfile):
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

    async def credentials(self, info: Info) -> PrincipalCredentials:
        kind = _kind_value(self.kind)
        found = await info.context.loaders.principal.load((kind, self.identifier))
        return found or PrincipalCredentials((), {})

    @field(description="The account's name, from an Organizations export when one was loaded.")
    async def account_name(self, info: Info) -> str | None:
        return await info.context.loaders.account_name.load(self.account_id) if self.account_id else None

    @field(description="Temporary credentials chained from this principal (active in the scope, if given).")
    async def session_count(self, info: Info, from_: From = None, to: datetime | None = None) -> int:
        keys = (await self.credentials(info)).keys
        if from_ is None and to is None:
            return len(keys)
        start, end = open_scope(from_, to)
        return sum(1 for span in await _spans(info, keys) if _overlaps(span, start, end))

    @field(
        description="Calls made with every credential chained from this principal, each record (recipient "
        "account, eventID) once."
    )
    async def api_call_count(self, info: Info, from_: From = None, to: datetime | None = None) -> int:
        keys = (await self.credentials(info)).keys
        if from_ is None and to is None:
            return sum(usage.api_call_count for _key, usage in await _usages(info, keys) if usage)
        start, end = open_scope(from_, to)
        return await run_in_threadpool(
            reads.call_count, info.context.store, keys, start, end, info.context.accounts
        )

    @field(description="Calls the principal made with its own long-term keys (users and root; else 0).")
    async def direct_api_call_count(self, info: Info, from_: From = None, to: datetime | None = None) -> int:
        start, end = open_scope(from_, to)
        kind = _kind_value(self.kind)
        return await run_in_threadpool(
            reads.direct_call_count,
            info.context.store,
            kind,
            self.identifier,
            start,
            end,
            info.context.accounts,
        )

    @field(description="Its temporary credentials, newest first.")
    async def sessions(
        self, info: Info, first: int | None = None, after: str | None = None, from_: From = None,
        to: datetime | None = None,
    ) -> RoleSessionConnection:  # fmt: skip
        keys = (await self.credentials(info)).keys
        start, end = open_scope(from_, to)
        return await _session_connection(
            info, keys, first, after, start, end, from_ is not None or to is not None
        )

    @field(description="Every call made with its temporary credentials, oldest first.")
    async def api_calls(
        self, info: Info, first: int | None = None, after: str | None = None, from_: From = None,
        to: datetime | None = None, filter: ApiCallFilter | None = None,
    ) -> ApiCallConnection:  # fmt: skip
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        keys = (await self.credentials(info)).keys
        start, end = open_scope(from_, to)
        return await calls_page(info, keys, start, end, size, after, filter.to_filter() if filter else None)

    # -- issue 4: profile panels (ActivityProfile fields) over its temporary credentials' calls --
    async def activity_subject(self, info: Info) -> Scoped:
        return Scoped(Subject.of_keys((await self.credentials(info)).keys))

    @field(
        description="GuardDuty findings about it: naming any credential chained from it, or itself (an "
        "instance, an IAM user or root), newest activity first."
    )
    async def findings(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> FindingConnectionType:
        from api.guardduty.types import principal_findings

        return await principal_findings(info, self, first, after)

    @field(
        description="What is unusual about its sessions (active in [from, to)), one entry per kind and "
        "value, "
        "the earliest first seen."
    )
    async def deviations(self, info: Info, from_: From = None, to: datetime | None = None) -> list[Deviation]:
        from api.deviations.schema import principal_deviations_field

        keys = (await self.credentials(info)).keys
        direct = self.identifier if _kind_value(self.kind) in ("IAM_USER", "ROOT") else None
        return await principal_deviations_field(info, keys, from_, to, direct)

    @field(description="The roles its credentials were sessions of.")
    async def roles(self, info: Info) -> list[IamRole]:
        keys = (await self.credentials(info)).keys
        arns = {usage.role_arn for _key, usage in await _usages(info, keys) if usage and usage.role_arn}
        minted = await info.context.loaders.issuance.load_many(list(keys))
        arns |= {issuance.role_arn for issuance in minted if issuance and issuance.role_arn}
        return [IamRole.of(arn) for arn in sorted(arns)]


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
    @field(description="The user's display name and e-mails, from an Identity Store export when loaded.")
    async def directory_display_name(self, info: Info) -> str | None:
        user = await info.context.loaders.directory_user.load(self.identifier)
        return (user.display_name or None) if user else None


@strawberry.type
class WebIdentityUser(Principal):
    pass


@strawberry.type
class FederationTokenUser(Principal):
    @field(description="The IAM user (or root) whose keys minted this federated user's tokens.")
    async def brokered_by(self, info: Info) -> Principal | None:
        found = await self.credentials(info)
        for line in found.lineages.values():
            if line.origin is not None:
                return Principal.from_ref(line.origin)
        return None


@strawberry.type
class Ec2Instance(Principal, InstanceFields):
    @field(
        description="What is unusual about the instance: its sessions' deviations against their baselines "
        "(new APIs and places, volume, travel, CREDENTIALS_OFF_INSTANCE) and its network's against its own "
        "(NEW_REMOTE_ADDRESS, NEW_REMOTE_PORT; default scope: the last day with flows)."
    )
    async def deviations(self, info: Info, from_: From = None, to: datetime | None = None) -> list[Deviation]:
        from api.deviations.schema import principal_deviations_field

        keys = (await self.credentials(info)).keys
        sessions, network = await asyncio.gather(
            principal_deviations_field(info, keys, from_, to, None),
            instance_network_deviations(info, self.identifier, from_, to),
        )
        return [*sessions, *network]


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


@strawberry.type(description="One origin of a role's sessions, with how much it used the role.")
class RoleOriginUsage:
    principal: Principal
    session_count: int
    api_call_count: int
    last_used: datetime | None


@strawberry.type(description="An IAM role: its sessions, and who is behind them, across accounts.")
class IamRole(ActivityProfile):
    id: strawberry.ID
    arn: str
    name: str
    account_id: str

    @classmethod
    def of(cls, arn: str) -> IamRole:
        parts = arn.split(":")
        return cls(
            id=strawberry.ID(arn),
            arn=arn,
            name=arn.rsplit("/", 1)[-1],
            account_id=parts[4] if len(parts) > 4 else "",
        )

    async def _sessions(self, info: Info) -> list[RoleSession]:
        """The role's sessions, built once per request (several fields read them)."""
        cache: dict[str, asyncio.Task[list[RoleSession]]] = info.context.extras.setdefault(
            "role_sessions", {}
        )
        if self.arn not in cache:
            cache[self.arn] = asyncio.ensure_future(self._build_sessions(info))
        return await cache[self.arn]

    async def _build_sessions(self, info: Info) -> list[RoleSession]:
        found = await info.context.loaders.role.load(self.arn)
        if not found:
            return []
        # The lineage walk already read each session's minting record.
        for line in found.lineages.values():
            if line.issuance is not None:
                info.context.loaders.issuance.prime(line.key, line.issuance)
        return await sessions_by_keys(info, list(found.keys))

    @field(description="The account's name, from an Organizations export when one was loaded.")
    async def account_name(self, info: Info) -> str | None:
        return await info.context.loaders.account_name.load(self.account_id) if self.account_id else None

    # -- issue 4: profile panels (ActivityProfile fields) over its sessions' calls --
    async def activity_subject(self, info: Info) -> Scoped:
        found = await info.context.loaders.role.load(self.arn)
        return Scoped(Subject.of_keys(found.keys if found else ()))

    @field(description="How many credentials were sessions of this role.")
    async def session_count(self, info: Info) -> int:
        found = await info.context.loaders.role.load(self.arn)
        return len(found.keys) if found else 0

    @field(description="Calls made with the role's sessions.")
    async def api_call_count(self, info: Info) -> int:
        return sum(session.api_call_count for session in await self._sessions(info))

    @field(description="When a session of the role was last seen calling.")
    async def last_used(self, info: Info) -> datetime | None:
        seen = [s.last_seen for s in await self._sessions(info) if s.last_seen]
        return max(seen) if seen else None

    @field(description="Who used the role (the origins of its sessions), whatever account they came from.")
    async def origins(self, info: Info) -> list[Principal]:
        return [usage.principal for usage in await self.origin_usage(info)]

    @field(description="Each origin of the role's sessions with its number of sessions, calls and last use.")
    async def origin_usage(self, info: Info) -> list[RoleOriginUsage]:
        found = await info.context.loaders.role.load(self.arn)
        if not found:
            return []
        sessions = {s.access_key_id: s for s in await self._sessions(info)}
        grouped: dict[tuple[str, str], list[RoleSession]] = {}
        refs: dict[tuple[str, str], PrincipalRef] = {}
        for key, line in found.lineages.items():
            if line.origin is None:
                continue
            group = (line.origin.kind.value, line.origin.identifier)
            refs[group] = line.origin
            grouped.setdefault(group, []).append(sessions[key])
        usages = []
        for group, members in grouped.items():
            seen = [m.last_seen for m in members if m.last_seen]
            usages.append(
                RoleOriginUsage(
                    principal=Principal.from_ref(refs[group]),
                    session_count=len(members),
                    api_call_count=sum(m.api_call_count for m in members),
                    last_used=max(seen) if seen else None,
                )
            )
        return sorted(usages, key=lambda u: (-u.session_count, u.principal.identifier))

    @field(description="The role's sessions, newest first.")
    async def sessions(
        self, info: Info, first: int | None = None, after: str | None = None, from_: From = None,
        to: datetime | None = None,
    ) -> RoleSessionConnection:  # fmt: skip
        found = await info.context.loaders.role.load(self.arn)
        start, end = open_scope(from_, to)
        keys = found.keys if found else ()
        return await _session_connection(
            info, keys, first, after, start, end, from_ is not None or to is not None
        )

    @field(description="Sessions of the role that can still be valid now.")
    async def still_valid_session_count(self, info: Info) -> int:
        return sum(1 for s in await self._sessions(info) if _valid(s))

    @field(
        description="Revoking sessions issued before this time (an aws:TokenIssueTime deny) cuts every "
        "session of the role that can still be valid; null when none can."
    )
    async def revoke_sessions_issued_before(self, info: Info) -> datetime | None:
        issued = [s.issued_at or s.first_seen for s in await self._sessions(info) if _valid(s)]
        known = [t for t in issued if t is not None]
        return max(known) + timedelta(seconds=1) if known else None


def _valid(session: RoleSession) -> bool:
    return can_still_be_valid(
        session.credential_kind, session.issued_at or session.first_seen, session.expires_at
    )


def _kind_value(kind: object) -> str:
    return kind.value if isinstance(kind, PrincipalKind) else str(kind)
