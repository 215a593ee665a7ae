"""GraphQL types of the GuardDuty slice: a finding, and how it links to sessions and principals.

A finding names an access key (and its principal id, user name and type), an instance, an API
call and remote addresses. The key is the session key of a temporary credential, so the finding's
sessions, their chains and the origin principals come from the CloudTrail slice's lineage (walked
at query time, across accounts). A long-term key (IAM user, root) has no session: the user is the
origin. Sessions, principals and instances list their findings through the functions at the end.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from enum import Enum

import strawberry
from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from api.cloudtrail import reads as trail_reads
from api.cloudtrail.filters import CallFilter
from api.cloudtrail.principal_types import Ec2Instance, Principal, PrincipalKindEnum
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.schema import find_principal
from api.cloudtrail.types import (
    ApiCallConnection,
    RoleSession,
    calls_page,
    sessions_by_keys,
)
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.guardduty import reads
from api.pagination import PageInfo, cursor_time, decode_cursor, encode_cursor, page_size

DEFAULT_MARGIN_MINUTES = 15
LINKED_BY_KEY = "ACCESS_KEY"
LINKED_BY_ACTION = "API_CALL_AND_ADDRESS"


def _known(sessions: list[RoleSession]) -> list[RoleSession]:
    return [s for s in sessions if s.first_seen is not None or s.issued_at is not None]


MAX_MARGIN_MINUTES = 7 * 24 * 60


def severity_label(severity: float) -> str:
    """GuardDuty's severity levels: Low 1.0-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0."""
    if severity >= 9.0:
        return "CRITICAL"
    if severity >= 7.0:
        return "HIGH"
    if severity >= 4.0:
        return "MEDIUM"
    return "LOW"


@strawberry.enum(
    description="GuardDuty's severity levels: LOW 1-3.9, MEDIUM 4-6.9, HIGH 7-8.9, CRITICAL 9-10."
)
class SeverityLabel(Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


@strawberry.type(
    description="A resource a finding names: its kind (AccessKey, Instance, S3Bucket, ...) and id."
)
class FindingResource:
    kind: str
    id: str


@strawberry.type(
    description="A GuardDuty finding (its newest version) with the sessions, chains and principals behind it."
)
class Finding:
    id: strawberry.ID = strawberry.field(description="The GuardDuty finding id.")
    arn: str
    type: str
    title: str
    description: str
    account_id: str
    region: str
    severity: float
    severity_label: SeverityLabel
    created_at: datetime
    updated_at: datetime
    first_seen: datetime = strawberry.field(description="When the activity was first seen (eventFirstSeen).")
    last_seen: datetime = strawberry.field(description="When the activity was last seen (eventLastSeen).")
    count: int = strawberry.field(description="How many times GuardDuty saw the activity (service.count).")
    archived: bool
    resource_type: str | None
    resources: list[FindingResource]
    access_key_id: str | None
    principal_id: str | None
    user_name: str | None
    user_type: str | None
    instance_id: str | None
    action_type: str | None
    api_call: str | None = strawberry.field(description="The API the finding's action called, if any.")
    api_service: str | None
    remote_ips: list[str]
    # The sessions once found (several fields need them in one request).
    link: strawberry.Private[list[tuple[str, list[RoleSession]]]] = dataclasses.field(default_factory=list)

    @classmethod
    def from_row(cls, row: reads.FindingRow) -> Finding:
        return cls(
            id=strawberry.ID(row.finding_id),
            arn=row.arn,
            type=row.type,
            title=row.title,
            description=row.description,
            account_id=row.account_id,
            region=row.region,
            severity=row.severity,
            severity_label=SeverityLabel(severity_label(row.severity)),
            created_at=row.created_at,
            updated_at=row.updated_at,
            first_seen=row.first_seen,
            last_seen=row.last_seen,
            count=row.count,
            archived=row.archived,
            resource_type=row.resource_type or None,
            resources=[FindingResource(kind=k, id=i) for k, i in row.resources],
            access_key_id=row.access_key_id or None,
            principal_id=row.principal_id or None,
            user_name=row.user_name or None,
            user_type=row.user_type or None,
            instance_id=row.instance_id or None,
            action_type=row.action_type or None,
            api_call=row.api_name or None,
            api_service=row.api_service or None,
            remote_ips=list(row.remote_ips),
        )

    async def _linked(self, info: Info) -> tuple[str, list[RoleSession]]:
        """The finding's sessions and how they were found: by the access key it names, else (a key
        the store does not know, or none) by its API call made from its remote addresses in its
        account around its sighting."""
        if not self.link:
            self.link.append(await self._find_linked(info))
        return self.link[0]

    async def _find_linked(self, info: Info) -> tuple[str, list[RoleSession]]:
        if self.access_key_id:
            found = _known(await sessions_by_keys(info, [self.access_key_id]))
            if found:
                return LINKED_BY_KEY, found
        margin = timedelta(minutes=DEFAULT_MARGIN_MINUTES)
        keys = await run_in_threadpool(
            reads.keys_by_action, info.context.store, self.account_id, self.api_call or "", self.remote_ips,
            self.first_seen - margin, self.last_seen + margin + timedelta(seconds=1),
        )  # fmt: skip
        found = _known(await sessions_by_keys(info, keys)) if keys else []
        return (LINKED_BY_ACTION, found) if found else ("", [])

    @field(
        description="The temporary credentials behind the finding: the one its access key names, or, when "
        "the store does not know that key, those that made its API call from its remote addresses in its "
        "account within its sighting (15 minutes either side); see `linkedBy`."
    )
    async def sessions(self, info: Info) -> list[RoleSession]:
        return (await self._linked(info))[1]

    @field(
        description="How `sessions` were found: ACCESS_KEY (the key the finding names), API_CALL_AND_ADDRESS "
        "(its API call from its remote addresses), or null (none found)."
    )
    async def linked_by(self, info: Info) -> str | None:
        return (await self._linked(info))[0] or None

    @field(
        description="The distinct principals behind the finding: the origins of its sessions' chains, or the "
        "IAM user or root whose long-term key it names."
    )
    async def origins(self, info: Info) -> list[Principal]:
        refs: dict[tuple[str, str], PrincipalRef] = {}
        for session in await self.sessions(info):
            line = await info.context.loaders.lineage.load(session.access_key_id)
            if line is not None and line.origin is not None:
                refs.setdefault((line.origin.kind.value, line.origin.identifier), line.origin)
        if not refs and (user := await self._long_term_user(info)) is not None:
            refs[(user.kind.value, user.identifier)] = user
        return [Principal.from_ref(ref) for ref in refs.values()]

    async def _long_term_user(self, info: Info) -> PrincipalRef | None:
        if self.user_type not in ("IAMUser", "Root") or not self.account_id:
            return None
        if self.user_type == "Root":
            account = self.account_id
            return PrincipalRef(
                PrincipalKind.ROOT, f"arn:aws:iam::{account}:root", f"root ({account})", account
            )
        # The user's ARN (with its path) from its own calls, else built from the name.
        ids = [self.principal_id] if self.principal_id else []
        arns = await run_in_threadpool(trail_reads.user_arns, info.context.store, ids)
        arn = arns.get(self.principal_id or "")
        if not arn and not self.user_name:
            return None
        arn = arn or f"arn:aws:iam::{self.account_id}:user/{self.user_name}"
        return PrincipalRef(PrincipalKind.IAM_USER, arn, arn.rsplit("/", 1)[-1], self.account_id)

    @field(description="The EC2 instance the finding names, when the store knows its sessions.")
    async def instance(self, info: Info) -> Ec2Instance | None:
        if not self.instance_id:
            return None
        found = await find_principal(info, PrincipalKind.EC2_INSTANCE, self.instance_id)
        return found if isinstance(found, Ec2Instance) else None

    @field(
        description="Calls made with the finding's access key between its first and last sighting, widened "
        "by `marginMinutes` on both sides, oldest first. `onlyFindingAction`: only calls of the finding's "
        "API from its remote addresses."
    )
    async def api_calls(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        margin_minutes: int = DEFAULT_MARGIN_MINUTES,
        only_finding_action: bool = False,
    ) -> ApiCallConnection:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        if not 0 <= margin_minutes <= MAX_MARGIN_MINUTES:
            raise BadRequest(f"marginMinutes must be between 0 and {MAX_MARGIN_MINUTES}")
        # The key's calls (a long-term key's too: its calls carry it as their session key), or those
        # of the sessions found by the finding's action.
        linked = [s.access_key_id for s in (await self._linked(info))[1]]
        keys = linked or ([self.access_key_id] if self.access_key_id else [])
        margin = timedelta(minutes=margin_minutes)
        action = CallFilter(name=self.api_call or "", source_ips=tuple(self.remote_ips))
        return await calls_page(
            info, keys, self.first_seen - margin, self.last_seen + margin + timedelta(seconds=1), size, after,
            action if only_finding_action else None,
        )  # fmt: skip

    @field(
        description="The finding as loaded (JSON text of its newest version), fetched only when asked for."
    )
    async def raw(self, info: Info) -> str | None:
        return await run_in_threadpool(
            reads.finding_raw, info.context.store, str(self.id), info.context.accounts
        )


@strawberry.type
class FindingEdge:
    node: Finding
    cursor: str


@strawberry.type
class FindingConnection:
    edges: list[FindingEdge]
    page_info: PageInfo


@strawberry.input(description="A principal by kind and identifier (as for the `principal` root field).")
class PrincipalSelector:
    kind: PrincipalKindEnum  # type: ignore[valid-type]
    identifier: str


def finding_connection(page: trail_reads.Page[reads.FindingRow]) -> FindingConnection:
    edges = [
        FindingEdge(
            node=Finding.from_row(row), cursor=encode_cursor("finding", row.last_seen, row.finding_id)
        )
        for row in page.items
    ]
    end_cursor = edges[-1].cursor if edges else None
    return FindingConnection(
        edges=edges, page_info=PageInfo(has_next_page=page.has_next, end_cursor=end_cursor)
    )


def finding_position(after: str | None) -> tuple[datetime, str] | None:
    cursor = decode_cursor("finding", after, 2)
    return (cursor_time(cursor[0]), str(cursor[1])) if cursor else None


# -- findings of sessions, principals and instances ------------------------------------------------


def _by_key(info: Info) -> DataLoader[str, list[reads.FindingRow]]:
    """Findings by access key, batched across the request (one query for every session asked)."""
    extras = info.context.extras
    if "guardduty_by_key" not in extras:
        store, accounts = info.context.store, info.context.accounts

        async def batch(keys: list[str]) -> list[list[reads.FindingRow]]:
            found = await run_in_threadpool(reads.findings_by_key, store, keys, accounts)
            return [found.get(key, []) for key in keys]

        extras["guardduty_by_key"] = DataLoader(load_fn=batch)
    loader: DataLoader[str, list[reads.FindingRow]] = extras["guardduty_by_key"]
    return loader


async def session_findings(info: Info, access_key_id: str) -> list[Finding]:
    """Findings that name a session's access key."""
    return [Finding.from_row(row) for row in await _by_key(info).load(access_key_id)]


async def subjects_of(info: Info, principal: Principal) -> reads.Subjects:
    """What findings about a principal name: its credentials' keys, the instance it is, the IAM user or
    root it is."""
    kind = principal.kind if isinstance(principal.kind, PrincipalKind) else PrincipalKind(principal.kind)
    keys = (await principal.credentials(info)).keys
    account = principal.account_id or ""
    instances: tuple[str, ...] = ()
    users: tuple[tuple[str, str], ...] = ()
    roots: tuple[str, ...] = ()
    if kind is PrincipalKind.EC2_INSTANCE:
        instances = (principal.identifier,)
    elif kind is PrincipalKind.IAM_USER and account:
        users = ((account, principal.identifier.rsplit("/", 1)[-1]),)
    elif kind is PrincipalKind.ROOT and account:
        roots = (account,)
    return reads.Subjects(tuple(keys), instances, users, roots)


async def principal_findings(
    info: Info, principal: Principal, first: int | None, after: str | None
) -> FindingConnection:
    """Findings about a principal (any credential chained from it, or itself), newest activity first."""
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    subjects = await subjects_of(info, principal)
    page = await run_in_threadpool(
        reads.list_findings,
        info.context.store,
        reads.FindingFilter(subjects=subjects),
        first=size,
        after=finding_position(after),
        accounts=info.context.accounts,
    )
    return finding_connection(page)
