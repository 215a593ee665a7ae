"""Ingest health and coverage, read from the ledger (ingest_objects) and the events.

Health is per stream: (source, account, region, log type). The source of an object is the
configured source whose `s3://bucket/prefix` its URI starts with (else its kind: `file`, `s3`).
An object's delivery time is the timestamp AWS puts in its file name (`…_20240501T1005Z_…`),
falling back to its newest record.

A gap is an hour without any CloudTrail delivery in a stream that normally delivers: one that
delivered in at least half of the hours between its first and last delivery of the lookback
window. The hour now under way (and the one before it: CloudTrail delivers within about 15
minutes) is never a gap yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from clickhouse import tables
from clickhouse.client import Store

NORMAL_SHARE = 0.5
MIN_HISTORY_HOURS = 6
MAX_GAPS = 100
GRACE = timedelta(hours=1)
PROBLEM_STATUSES = ("failed", "partial")

# The streams and the source each object belongs to (prefix match on configured sources).
_OBJECTS = f"""
    SELECT
        arrayFirstIndex(p -> startsWith(uri, p), {{prefixes:Array(String)}}) AS source_index,
        if(source_index > 0, {{names:Array(String)}}[source_index], toString(source)) AS stream_source,
        account_id, region, log_type, status, records_loaded, records_bad, loaded_at,
        coalesce(
            parseDateTimeBestEffortOrNull(extract(uri, '_(\\\\d{{8}}T\\\\d{{4}})Z[_.]'), 'UTC'),
            last_event) AS delivered
    FROM {tables.INGEST_OBJECTS} FINAL
"""


@dataclass(frozen=True)
class Gap:
    start: datetime
    end: datetime

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / timedelta(hours=1))


@dataclass(frozen=True)
class StreamHealth:
    source: str
    account_id: str
    region: str
    log_type: str
    last_object_time: datetime | None
    last_load_time: datetime | None
    objects_loaded: int
    records_loaded: int
    objects_with_errors: int
    records_bad: int
    gaps: tuple[Gap, ...] = ()

    def lag_seconds(self, now: datetime) -> float | None:
        if self.last_object_time is None:
            return None
        return max(0.0, (now - self.last_object_time).total_seconds())


@dataclass(frozen=True)
class SourceState:
    name: str
    uri: str
    queue_url: str
    poll: bool
    last_poll_at: datetime | None
    last_notification_at: datetime | None
    objects_enqueued: int
    notifications: int
    errors: int
    last_error: str
    last_error_at: datetime | None


def source_prefixes(store: Store) -> tuple[list[str], list[str]]:
    """(names, s3 URI prefixes) of the configured sources, longest prefix first."""
    rows = store.rows(
        f"SELECT name, concat('s3://', bucket, '/', prefix) AS uri FROM {tables.INGEST_SOURCES} FINAL"
        " WHERE NOT deleted ORDER BY length(uri) DESC, name"
    )
    return [str(r[0]) for r in rows], [str(r[1]) for r in rows]


def stream_health(store: Store, start: datetime, end: datetime, now: datetime) -> list[StreamHealth]:
    """Every stream's health; gaps of CloudTrail streams are looked for in [start, end)."""
    names, prefixes = source_prefixes(store)
    rows = store.read(
        f"""SELECT stream_source, account_id, region, log_type, max(delivered), max(loaded_at), count(),
            sum(records_loaded), countIf(status IN {{problems:Array(String)}}), sum(records_bad)
        FROM ({_OBJECTS})
        GROUP BY stream_source, account_id, region, log_type
        ORDER BY stream_source, account_id, region, log_type""",
        {"names": names, "prefixes": prefixes, "problems": list(PROBLEM_STATUSES)},
    )
    gaps = delivery_gaps(store, start, end, now, names, prefixes)
    return [
        StreamHealth(
            str(s),
            str(a),
            str(r),
            str(t),
            _utc(last),
            _utc(loaded),
            int(n),
            int(records),
            int(errors),
            int(bad),
            gaps.get((str(s), str(a), str(r), str(t)), ()),
        )
        for s, a, r, t, last, loaded, n, records, errors, bad in rows
    ]


def delivery_gaps(
    store: Store, start: datetime, end: datetime, now: datetime, names: list[str], prefixes: list[str]
) -> dict[tuple[str, str, str, str], tuple[Gap, ...]]:
    """Hours in [start, end) without a CloudTrail delivery, for streams that normally deliver."""
    rows = store.read(
        f"""SELECT stream_source, account_id, region, log_type, groupUniqArray(toStartOfHour(delivered))
        FROM ({_OBJECTS})
        WHERE log_type = 'cloudtrail' AND delivered >= {{start:DateTime}} AND delivered < {{end:DateTime}}
        GROUP BY stream_source, account_id, region, log_type""",
        {"names": names, "prefixes": prefixes, "start": _hour(start), "end": end},
    )
    limit = min(end, _hour(now) - GRACE)
    found = {}
    for source, account, region, log_type, hours in rows:
        gaps = tuple(missing_hours({_utc_hour(h) for h in hours}, limit))
        if gaps:
            found[(str(source), str(account), str(region), str(log_type))] = gaps[:MAX_GAPS]
    return found


def missing_hours(delivered: set[datetime], limit: datetime) -> Iterator[Gap]:
    """Runs of hours after the first delivery and before `limit` with no delivery, when the stream
    delivered in at least NORMAL_SHARE of the hours from its first to its last delivery."""
    if not delivered:
        return
    first, last = min(delivered), max(delivered)
    span = int((last - first) / timedelta(hours=1)) + 1
    if span < MIN_HISTORY_HOURS or len(delivered) < NORMAL_SHARE * span:
        return
    hour, run_start = first, None
    while hour < limit:
        if hour in delivered:
            if run_start is not None:
                yield Gap(run_start, hour)
                run_start = None
        elif run_start is None:
            run_start = hour
        hour += timedelta(hours=1)
    if run_start is not None:
        yield Gap(run_start, _hour(limit))


def source_states(store: Store) -> list[SourceState]:
    # Sources never followed yet have no state row: the LEFT JOIN fills zeros and NULL times.
    rows = store.read(
        f"""SELECT s.name, concat('s3://', s.bucket, '/', s.prefix), s.queue_url, s.poll, t.last_poll_at,
            t.last_notification_at, t.objects_enqueued, t.notifications, t.errors, t.last_error,
            t.last_error_at
        FROM (SELECT * FROM {tables.INGEST_SOURCES} FINAL WHERE NOT deleted) AS s
        LEFT JOIN (SELECT * FROM {tables.INGEST_SOURCE_STATE} FINAL) AS t ON t.source = s.name
        ORDER BY s.name"""
    )
    return [
        SourceState(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            bool(r[3]),
            _utc(r[4]),
            _utc(r[5]),
            int(r[6] or 0),
            int(r[7] or 0),
            int(r[8] or 0),
            str(r[9] or ""),
            _utc(r[10]),
        )
        for r in rows
    ]


# -- coverage -----------------------------------------------------------------------------------

MANAGEMENT_EVENTS = "management events"
DATA_EVENTS = "data events"
INSIGHTS = "insights"
FLOWS = "flows"
FINDINGS = "findings"
_LEDGER_KINDS = {"vpcflowlogs": FLOWS, "guardduty": FINDINGS}


@dataclass(frozen=True)
class CoverageRow:
    account_id: str
    region: str
    kind: str
    first_record: datetime | None
    last_record: datetime | None
    hours_with_records: int


def coverage(store: Store, start: datetime, end: datetime, account_ids: list[str]) -> list[CoverageRow]:
    """Which accounts, regions and kinds of log have records in [start, end) (optionally for some
    accounts): CloudTrail split by event category from the events, flows and findings from the
    ledger (objects whose records overlap the range)."""
    params: dict[str, Any] = {"start": start, "end": end, "accounts": account_ids}
    events = store.read(
        f"""SELECT recipient_account_id, aws_region,
            multiIf(event_category = 'Data', {{data:String}}, event_category = 'Insight', {{insight:String}},
                    {{management:String}}) AS kind,
            min(event_time), max(event_time), uniqExact(toStartOfHour(event_time))
        FROM {tables.CLOUDTRAIL_EVENTS}
        WHERE event_time >= {{start:DateTime}} AND event_time < {{end:DateTime}}
          AND (empty({{accounts:Array(String)}}) OR recipient_account_id IN {{accounts:Array(String)}})
        GROUP BY recipient_account_id, aws_region, kind""",
        {**params, "data": DATA_EVENTS, "insight": INSIGHTS, "management": MANAGEMENT_EVENTS},
    )
    other = store.read(
        f"""SELECT account_id, region, log_type, min(first_event), max(last_event),
            uniqExact(toStartOfHour(first_event))
        FROM {tables.INGEST_OBJECTS} FINAL
        WHERE log_type IN {{kinds:Array(String)}} AND status IN ('loaded', 'partial')
          AND first_event < {{end:DateTime}} AND last_event >= {{start:DateTime}}
          AND (empty({{accounts:Array(String)}}) OR account_id IN {{accounts:Array(String)}})
        GROUP BY account_id, region, log_type""",
        {**params, "kinds": list(_LEDGER_KINDS)},
    )
    found = [CoverageRow(str(a), str(r), str(k), _utc(f), _utc(la), int(h)) for a, r, k, f, la, h in events]
    found += [
        CoverageRow(str(a), str(r), _LEDGER_KINDS[str(t)], _utc(f), _utc(la), int(h))
        for a, r, t, f, la, h in other
    ]
    return sorted(found, key=lambda row: (row.account_id, row.region, row.kind))


def known_accounts(store: Store) -> list[str]:
    """Accounts named by any loaded object (what an unscoped coverage answer is about)."""
    rows = store.read(
        f"SELECT DISTINCT account_id FROM {tables.INGEST_OBJECTS} FINAL"
        " WHERE account_id != '' ORDER BY account_id"
    )
    return [str(r[0]) for r in rows]


def _hour(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _utc_hour(value: Any) -> datetime:
    moment = _utc(value)
    assert moment is not None
    return _hour(moment)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
