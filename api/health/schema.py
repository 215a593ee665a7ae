"""Root fields of ingest health and coverage."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail.schema import scope
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.health import reads
from api.health.types import (
    Coverage,
    CoverageEntry,
    CoverageLogType,
    IngestHealth,
    IngestSource,
    IngestStream,
)
from clickhouse.client import Store

ACCOUNT = re.compile(r"\d{12}")
MAX_ACCOUNTS = 1000
DEFAULT_GAP_WINDOW = timedelta(days=7)


def health(store: Store, start: datetime, end: datetime, now: datetime) -> IngestHealth:
    streams = reads.stream_health(store, start, end, now)
    sources = reads.source_states(store)
    return IngestHealth(
        checked_at=now,
        streams=[IngestStream.build(row, now) for row in streams],
        sources=[IngestSource.build(row) for row in sources],
    )


@strawberry.type
class Query:
    @field(
        description="Ingest health per source, account, region and log type; gaps are looked for in "
        "[from, to) (default: the last 7 days)."
    )
    async def ingest_health(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
    ) -> IngestHealth:
        if info.context.accounts is not None:
            raise BadRequest("ingest health covers every account: not for a token limited to some")
        now = datetime.now(UTC)
        end = to or now
        start = from_ or end - DEFAULT_GAP_WINDOW
        if start >= end:
            raise BadRequest("`from` must be before `to`")
        return await run_in_threadpool(health, info.context.store, start, end, now)

    @field(
        description="Which accounts, regions and kinds of log were loaded for a scope (default: the last "
        "90 days, every account), so that no calls can be told apart from no logs."
    )
    async def coverage(
        self,
        info: Info,
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        account_ids: list[str] | None = None,
    ) -> Coverage:
        start, end = scope(info, from_, to)
        asked = sorted(set(account_ids or []))
        if len(asked) > MAX_ACCOUNTS or not all(ACCOUNT.fullmatch(a) for a in asked):
            raise BadRequest(f"accountIds must be at most {MAX_ACCOUNTS} 12-digit account ids")
        allowed = info.context.accounts
        if allowed is not None:
            # A token limited to accounts learns nothing of the others, not even that they exist.
            asked = [a for a in asked if a in allowed] if asked else sorted(allowed)
            if not asked:
                raise BadRequest("this token may not read any of the accounts asked for")
        store = info.context.store
        rows = await run_in_threadpool(reads.coverage, store, start, end, asked)
        accounts = asked or await run_in_threadpool(reads.known_accounts, store)
        seen = {row.account_id for row in rows}
        return Coverage(
            from_=start,
            to=end,
            account_ids=accounts,
            entries=[CoverageEntry.build(row) for row in rows],
            accounts_without_logs=[a for a in accounts if a not in seen],
            log_types_loaded=sorted({CoverageLogType(row.kind) for row in rows}, key=lambda k: k.name),
        )
