"""GraphQL types of ingest health and coverage. Types build themselves from read rows."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry

from api.health import reads


@strawberry.type(description="Hours [start, end) in which a stream that normally delivers delivered nothing.")
class DeliveryGap:
    start: datetime
    end: datetime
    hours: int


@strawberry.type(
    description="Ingest health of one stream: a source's objects of one account, region and log type."
)
class IngestStream:
    source: str
    account_id: str
    region: str
    log_type: str
    last_object_time: datetime | None = strawberry.field(
        description="Delivery time of the newest object (from its name, else its newest record)."
    )
    last_load_time: datetime | None
    lag_seconds: float | None = strawberry.field(description="Now minus lastObjectTime.")
    objects_loaded: int
    records_loaded: int
    objects_with_errors: int = strawberry.field(description="Objects failed or partly loaded.")
    records_bad: int
    gaps: list[DeliveryGap]
    gap_hours: int

    @classmethod
    def build(cls, row: reads.StreamHealth, now: datetime) -> IngestStream:
        return cls(
            source=row.source,
            account_id=row.account_id,
            region=row.region,
            log_type=row.log_type,
            last_object_time=row.last_object_time,
            last_load_time=row.last_load_time,
            lag_seconds=row.lag_seconds(now),
            objects_loaded=row.objects_loaded,
            records_loaded=row.records_loaded,
            objects_with_errors=row.objects_with_errors,
            records_bad=row.records_bad,
            gaps=[DeliveryGap(start=g.start, end=g.end, hours=g.hours) for g in row.gaps],
            gap_hours=sum(g.hours for g in row.gaps),
        )


@strawberry.type(description="A configured source and what its follow loop last did.")
class IngestSource:
    name: str
    uri: str
    queue_url: str | None
    poll: bool
    last_poll_at: datetime | None
    last_notification_at: datetime | None
    objects_enqueued: int
    notifications: int
    errors: int
    last_error: str | None
    last_error_at: datetime | None

    @classmethod
    def build(cls, row: reads.SourceState) -> IngestSource:
        return cls(
            name=row.name,
            uri=row.uri,
            queue_url=row.queue_url or None,
            poll=row.poll,
            last_poll_at=row.last_poll_at,
            last_notification_at=row.last_notification_at,
            objects_enqueued=row.objects_enqueued,
            notifications=row.notifications,
            errors=row.errors,
            last_error=row.last_error or None,
            last_error_at=row.last_error_at,
        )


@strawberry.type(description="Ingest health: every stream, and every configured source.")
class IngestHealth:
    checked_at: datetime
    streams: list[IngestStream]
    sources: list[IngestSource]


@strawberry.enum(description="Kinds of log an answer can rest on.")
class CoverageLogType(Enum):
    MANAGEMENT_EVENTS = reads.MANAGEMENT_EVENTS
    DATA_EVENTS = reads.DATA_EVENTS
    INSIGHTS = reads.INSIGHTS
    FLOWS = reads.FLOWS
    FINDINGS = reads.FINDINGS


@strawberry.type(description="Records of one kind of log loaded for an account and region in the scope.")
class CoverageEntry:
    account_id: str
    region: str
    log_type: CoverageLogType
    first_record: datetime | None
    last_record: datetime | None
    hours_with_records: int

    @classmethod
    def build(cls, row: reads.CoverageRow) -> CoverageEntry:
        return cls(
            account_id=row.account_id,
            region=row.region,
            log_type=CoverageLogType(row.kind),
            first_record=row.first_record,
            last_record=row.last_record,
            hours_with_records=row.hours_with_records,
        )


@strawberry.type(
    description="What an answer over a scope rests on: the logs loaded, and the accounts with none "
    "(there, no calls means no logs, not no activity)."
)
class Coverage:
    from_: datetime = strawberry.field(name="from")
    to: datetime
    account_ids: list[str] = strawberry.field(
        description="The accounts asked about (or every account known)."
    )
    entries: list[CoverageEntry]
    accounts_without_logs: list[str]
    log_types_loaded: list[CoverageLogType]
