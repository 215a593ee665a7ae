"""Profile panels (as in Detective) for every entity that has calls: counts by API, source IP, user
agent and region, and calls over time in buckets for charts.

`ActivityProfile` is a GraphQL interface: RoleSession, Principal, IamRole and the pivots (access
key, IP address, resource) implement it by saying which calls are theirs (`activity_subject`).
Lists are bounded (`first`, capped at the page-size limit); every field takes a scope (`from`,
`to`) that defaults to everything the entity did (its calls bound the scan).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Annotated, Any

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import summaries
from api.cloudtrail.summaries import Subject
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.pagination import EPOCH, page_size, storable_time

MAX_BUCKETS = 2000
From = Annotated[datetime | None, strawberry.argument(name="from")]


@strawberry.enum(description="The width of the time buckets of `activity`.")
class TimeBucket(Enum):
    HOUR = "HOUR"
    DAY = "DAY"


@strawberry.type(description="Calls to one API: all of them and the failed ones.")
class ApiCount:
    service: str
    name: str
    calls: int
    errors: int
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@strawberry.type(description="Calls that share one value (a source IP, a user agent, a region).")
class CallCount:
    value: str
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


@strawberry.type(description="Calls in one time bucket (starting at `time`), for charts.")
class ActivityPoint:
    time: datetime
    calls: int
    errors: int


@dataclass(frozen=True)
class Scoped:
    """Which calls an entity's profile covers, and its scope when the query gives none."""

    subject: Subject
    start: datetime = EPOCH
    end: datetime | None = None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def resolve_scope(scoped: Scoped, from_: datetime | None, to: datetime | None) -> tuple[datetime, datetime]:
    start = storable_time(from_, "from") if from_ else scoped.start
    end = storable_time(to, "to") if to else (scoped.end or datetime.now(UTC) + timedelta(days=1))
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return start, end


def _floor(value: datetime, bucket: TimeBucket) -> datetime:
    value = _utc(value).replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0) if bucket is TimeBucket.DAY else value


@strawberry.interface(
    description="An entity with calls: its profile by API, source IP, user agent, region and over time."
)
class ActivityProfile:
    async def activity_subject(self, info: Info) -> Scoped:
        raise NotImplementedError

    async def _summary(
        self, info: Info, read: Any, dimension: str | None, from_: datetime | None, to: datetime | None,
        first: int | None, default_size: int,
    ) -> list[Any]:  # fmt: skip
        """Runs `read` (a summaries function) over this entity's calls in the scope, `first` rows."""
        limit = page_size(first, default_size, info.context.settings.max_page_size)
        scoped = await self.activity_subject(info)
        start, end = resolve_scope(scoped, from_, to)
        dimensions = (dimension,) if dimension else ()
        store, accounts = info.context.store, info.context.accounts
        rows: list[Any] = await run_in_threadpool(
            lambda: read(store, scoped.subject, *dimensions, start, end, limit, accounts)
        )
        return rows

    async def _breakdown(
        self, info: Info, dimension: str, from_: datetime | None, to: datetime | None, first: int | None
    ) -> list[CallCount]:
        default = info.context.settings.default_page_size
        rows = await self._summary(info, summaries.calls_by, dimension, from_, to, first, default)
        return [CallCount(value=r.value, calls=r.calls, errors=r.errors, first_seen=_utc(r.first_seen),
                          last_seen=_utc(r.last_seen)) for r in rows]  # fmt: skip

    @field(description="Calls and failed calls by service and API, most called first.")
    async def api_calls_by_api(
        self, info: Info, from_: From = None, to: datetime | None = None, first: int | None = None
    ) -> list[ApiCount]:
        default = info.context.settings.max_page_size
        rows = await self._summary(info, summaries.calls_by_api, None, from_, to, first, default)
        return [
            ApiCount(service=r.service, name=r.name, calls=r.calls, errors=r.errors,
                     first_seen=_utc(r.first_seen), last_seen=_utc(r.last_seen))
            for r in rows
        ]  # fmt: skip

    @field(description="Calls and failed calls by source IP address (or service name), most first.")
    async def api_calls_by_source_ip(
        self, info: Info, from_: From = None, to: datetime | None = None, first: int | None = None
    ) -> list[CallCount]:
        return await self._breakdown(info, "source_ip", from_, to, first)

    @field(description="Calls and failed calls by user agent, most first.")
    async def api_calls_by_user_agent(
        self, info: Info, from_: From = None, to: datetime | None = None, first: int | None = None
    ) -> list[CallCount]:
        return await self._breakdown(info, "user_agent", from_, to, first)

    @field(description="Calls and failed calls by AWS region, most first.")
    async def api_calls_by_region(
        self, info: Info, from_: From = None, to: datetime | None = None, first: int | None = None
    ) -> list[CallCount]:
        return await self._breakdown(info, "region", from_, to, first)

    @field(
        description="Calls and failed calls per hour or day, oldest first, empty buckets included: from "
        "`from` (default: the first call) to `to` (default: the last call); at most 2000 buckets."
    )
    async def activity(
        self, info: Info, from_: From = None, to: datetime | None = None, bucket: TimeBucket = TimeBucket.HOUR
    ) -> list[ActivityPoint]:
        scoped = await self.activity_subject(info)
        start, end = resolve_scope(scoped, from_, to)
        width = summaries.BUCKETS[bucket.value][1]
        rows = await run_in_threadpool(
            summaries.activity,
            info.context.store,
            scoped.subject,
            bucket.value,
            start,
            end,
            MAX_BUCKETS,
            info.context.accounts,
        )
        too_many = f"more than {MAX_BUCKETS} buckets: narrow `from`/`to` or use DAY buckets"
        if len(rows) > MAX_BUCKETS:
            raise BadRequest(too_many)
        if not rows and (from_ is None or to is None):
            return []
        found = {_utc(r.time): r for r in rows}
        first = _floor(start, bucket) if from_ else min(found)
        last = _floor(end - timedelta(seconds=1), bucket) if to else max(found)
        if (last - first) / width + 1 > MAX_BUCKETS:
            raise BadRequest(too_many)
        points = []
        time = first
        while time <= last:
            row = found.get(time)
            points.append(
                ActivityPoint(time=time, calls=row.calls if row else 0, errors=row.errors if row else 0)
            )
            time += width
        return points
