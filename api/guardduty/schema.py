"""Root fields of the GuardDuty slice: a finding by its id, and findings by filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail.principal_types import Principal
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.cloudtrail.schema import find_principal
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.guardduty import reads
from api.guardduty.types import (
    Finding,
    FindingConnection,
    PrincipalSelector,
    finding_connection,
    finding_position,
    subjects_of,
)
from api.pagination import page_size, storable_time

MAX_ID_LENGTH = 512


def _bounded(value: str | None, name: str) -> str:
    value = (value or "").strip()
    if len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"{name} must be at most {MAX_ID_LENGTH} characters")
    return value


def _account_of(identifier: str) -> str:
    parts = identifier.split(":")
    return parts[4] if identifier.startswith("arn:") and len(parts) > 4 else ""


@strawberry.type
class Query:
    @field(
        description="A GuardDuty finding by its id, with the sessions, chains and origin principals behind "
        "it; null when not loaded."
    )
    async def finding(self, info: Info, id: strawberry.ID) -> Finding | None:
        finding_id = _bounded(str(id), "id")
        if not finding_id:
            raise BadRequest("id must not be empty")
        found = await run_in_threadpool(
            reads.findings_by_id, info.context.store, [finding_id], info.context.accounts
        )
        row = found.get(finding_id)
        return Finding.from_row(row) if row else None

    @field(
        description="Findings, the most recently active first. `from`/`to`: activity (first to last seen) "
        "overlapping the scope; `principal`: about any credential chained from that principal, or about it "
        "itself (an instance, an IAM user or root)."
    )
    async def findings(
        self,
        info: Info,
        type: str | None = None,
        type_prefix: str | None = None,
        min_severity: float | None = None,
        max_severity: float | None = None,
        account_id: str | None = None,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        principal: PrincipalSelector | None = None,
        archived: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> FindingConnection:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        start = storable_time(from_, "from") if from_ else None
        end = storable_time(to, "to") if to else None
        if start and end and start >= end:
            raise BadRequest("`from` must be before `to`")
        subjects = None
        if principal is not None:
            kind = (
                principal.kind if isinstance(principal.kind, PrincipalKind) else PrincipalKind(principal.kind)
            )
            identifier = _bounded(principal.identifier, "identifier")
            if not identifier:
                raise BadRequest("principal.identifier must not be empty")
            # A principal without sessions in the store (an instance, a user) can still be named by findings.
            found = await find_principal(info, kind, identifier) or Principal.from_ref(
                PrincipalRef(kind, identifier, identifier, _account_of(identifier))
            )
            subjects = await subjects_of(info, found)
        wanted = reads.FindingFilter(
            types=(_bounded(type, "type"),) if type else (),
            type_prefix=_bounded(type_prefix, "typePrefix"),
            min_severity=min_severity,
            max_severity=max_severity,
            account_id=_bounded(account_id, "accountId"),
            start=start,
            end=end,
            archived=archived,
            subjects=subjects,
        )
        page = await run_in_threadpool(
            reads.list_findings,
            info.context.store,
            wanted,
            first=size,
            after=finding_position(after),
            accounts=info.context.accounts,
        )
        return finding_connection(page)
