"""Backfills: load everything a source holds for a range of days, in parallel, resumably.

A backfill is planned into parts, one per stream (account, log type, region) and month; each part
is one queue message that lists only its day prefixes and enqueues loads for the objects the
ledger does not hold yet. Memory stays bounded (streams and listings are generators, objects go
out in pages), parts spread over every worker, and a crash loses nothing: planning again (the
follow loop does it when an embedded server restarts) lists the parts again and the ledger skips
every object already loaded.

Retention: days older than `ROLETRAIL_RETENTION_DAYS` would load nothing (their records expire on
arrival), so the backfill warns when it is requested, does not list those days, and records each
such part as `expired`; after raising the retention, running the backfill again loads them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from clickhouse import tables
from clickhouse.client import Store
from ingest import jobs, s3
from ingest.sources import ObjectRef
from ingest.sourcesconfig import SourceConfig, connect, source_named

log = logging.getLogger(__name__)

PENDING = "pending"
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
DISCOVERED = "discovered"
EXPIRED = "expired"
PAGE = 1000
_COLUMNS = (
    "backfill_id", "job_id", "source", "first_day", "last_day", "retention_days", "expired_before", "warning",
    "state", "planned", "parts_planned", "run_started_at", "created_at", "updated_at",
)  # fmt: skip
_PART_COLUMNS = (
    "backfill_id", "part", "status", "first_day", "last_day", "objects_found", "objects_already_loaded",
    "updated_at",
)  # fmt: skip

# (job id, refs) -> (objects enqueued, objects already loaded or on their way)
EnqueueRefs = Callable[[str, list[ObjectRef]], tuple[int, int]]
# (backfill id, stream prefix, first day, last day) as ISO dates
SendPart = Callable[[str, str, str, str], None]


@dataclass(frozen=True)
class Backfill:
    backfill_id: str
    job_id: str
    source: str
    first_day: date
    last_day: date
    retention_days: int
    expired_before: date | None
    warning: str
    state: str
    planned: bool
    parts_planned: int
    run_started_at: datetime
    created_at: datetime

    def row(self, updated_at: datetime) -> list[Any]:
        return [*asdict(self).values(), updated_at]


@dataclass(frozen=True)
class BackfillStatus:
    backfill: Backfill
    parts_discovered: int
    parts_expired: int
    objects_found: int
    objects_already_loaded: int
    objects_loaded: int
    expired_parts: tuple[str, ...]
    # Parts whose listing failed (after the queue's retries a later success replaces them).
    parts_failed: int = 0
    failed_parts: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        b = self.backfill
        return (
            b.planned
            and self.parts_discovered + self.parts_failed >= b.parts_planned
            and self.objects_loaded >= self.objects_found
        )

    def as_dict(self) -> dict[str, Any]:
        data = {k: v.isoformat() if isinstance(v, date) else v for k, v in asdict(self.backfill).items()}
        return {
            **data,
            "parts_discovered": self.parts_discovered,
            "parts_expired": self.parts_expired,
            "parts_failed": self.parts_failed,
            "objects_found": self.objects_found,
            "objects_already_loaded": self.objects_already_loaded,
            "objects_loaded": self.objects_loaded,
            "expired_parts": list(self.expired_parts),
            "failed_parts": list(self.failed_parts),
            "finished": self.finished,
        }


def retention_warning(first: date, retention_days: int, today: date) -> tuple[date | None, str]:
    """The first day still inside the retention when `first` is before it, and a warning saying so."""
    if retention_days == 0:
        return None, ""
    cutoff = today - timedelta(days=retention_days)
    if first >= cutoff:
        return None, ""
    return cutoff, (
        f"the backfill starts {(cutoff - first).days} days before the {retention_days}-day retention "
        f"(ROLETRAIL_RETENTION_DAYS): days before {cutoff.isoformat()} are not loaded and are recorded "
        "as expired; raise the retention and run the backfill again to load them"
    )


def request_backfill(
    store: Store, source: SourceConfig, first: date, last: date, retention_days: int, requested_by: str
) -> Backfill:
    """Record a backfill (pending: a follow loop starts it); the warning says what will expire."""
    if first > last:
        raise ValueError("the backfill's first day is after its last day")
    expired_before, warning = retention_warning(first, retention_days, datetime.now(UTC).date())
    if warning:
        log.warning("backfill of %s: %s", source.name, warning)
    now = datetime.now(UTC)
    backfill = Backfill(
        uuid.uuid4().hex, jobs.create_job(store, [source.uri], requested_by), source.name, first, last,
        retention_days, expired_before, warning, PENDING, False, 0, now, now,
    )  # fmt: skip
    store.insert(tables.INGEST_BACKFILLS, [backfill.row(now)], _COLUMNS)
    return backfill


def _save(store: Store, backfill: Backfill) -> None:
    store.insert(tables.INGEST_BACKFILLS, [backfill.row(datetime.now(UTC))], _COLUMNS)


def get_backfill(store: Store, backfill_id: str) -> Backfill | None:
    found = _backfills(store, "backfill_id = {id:String}", {"id": backfill_id})
    return found[0] if found else None


def backfills_in(store: Store, states: tuple[str, ...]) -> list[Backfill]:
    return _backfills(store, "state IN {states:Array(String)}", {"states": list(states)})


def _backfills(store: Store, where: str, params: dict[str, Any]) -> list[Backfill]:
    rows = store.rows(
        f"SELECT {', '.join(_COLUMNS[:-1])} FROM {tables.INGEST_BACKFILLS} FINAL WHERE {where}"
        " ORDER BY created_at",
        params,
    )
    return [
        Backfill(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            r[3],
            r[4],
            int(r[5]),
            r[6],
            str(r[7]),
            str(r[8]),
            bool(r[9]),
            int(r[10]),
            _utc(r[11]),
            _utc(r[12]),
        )
        for r in rows
    ]


def start(store: Store, backfill: Backfill, send_plan: Callable[[str], None]) -> Backfill:
    """(Re)start a backfill: a new run that plans every part again (the ledger skips what is done)."""
    now = datetime.now(UTC)
    started = Backfill(**{**asdict(backfill), "state": RUNNING, "planned": False, "run_started_at": now})
    _save(store, started)
    send_plan(backfill.backfill_id)
    return started


def request_restart(store: Store, backfill_id: str) -> Backfill | None:
    """Ask for a backfill to run again from its plan (a follow loop starts it): after its queue
    lost its messages (a Redis without persistence restarted), a failure, or a raised retention."""
    backfill = get_backfill(store, backfill_id)
    if backfill is None:
        return None
    pending = Backfill(**{**asdict(backfill), "state": PENDING})
    _save(store, pending)
    return pending


def months(first: date, last: date) -> Iterator[tuple[date, date]]:
    """(first, last) day of each calendar month the range touches, clipped to the range."""
    day = first
    while day <= last:
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        yield day, min(last, following - timedelta(days=1))
        day = following


def part_name(stream: str, first: date, last: date) -> str:
    """A part: its stream prefix and the days it covers (`…/us-east-1/2024/05/01..2024/05/31`)."""
    return f"{stream}{first:%Y/%m/%d}..{last:%Y/%m/%d}"


def plan(store: Store, backfill_id: str, send_part: SendPart) -> int:
    """List the source's streams and send one part per stream and month; returns the parts sent."""
    backfill, source = _load(store, backfill_id)
    try:
        return _plan(store, backfill, source, send_part)
    except OSError as exc:
        # The bucket cannot be listed (missing, refused): the backfill fails and says why.
        log.warning("backfill %s: %s", backfill_id, exc)
        note = f"{backfill.warning}; " if backfill.warning else ""
        failed = {"state": FAILED, "warning": f"{note}cannot list the source: {exc}"[:1000]}
        _save(store, Backfill(**{**asdict(backfill), **failed}))
        return 0


def _plan(store: Store, backfill: Backfill, source: SourceConfig, send_part: SendPart) -> int:
    backfill_id = backfill.backfill_id
    sent = 0
    expired: list[list[Any]] = []
    for stream in s3.stream_prefixes(source.bucket, source.prefix):
        for first, last in months(backfill.first_day, backfill.last_day):
            cutoff = backfill.expired_before
            if cutoff is not None and first < cutoff:
                until = min(last, cutoff - timedelta(days=1))
                expired.append([backfill_id, part_name(stream, first, until), EXPIRED, first, until, 0, 0])
                if last < cutoff:
                    continue
                first = cutoff
            send_part(backfill_id, stream, first.isoformat(), last.isoformat())
            sent += 1
    now = datetime.now(UTC)
    store.insert(tables.INGEST_BACKFILL_PARTS, [[*row, now] for row in expired], _PART_COLUMNS)
    _save(store, Backfill(**{**asdict(backfill), "planned": True, "parts_planned": sent}))
    return sent


def discover_part(
    store: Store, backfill_id: str, stream: str, first: str, last: str, enqueue: EnqueueRefs
) -> tuple[int, int]:
    """List one part's day prefixes and enqueue what is not loaded yet, a page at a time."""
    backfill, source = _load(store, backfill_id)
    found = already = 0
    page: list[ObjectRef] = []
    first_day, last_day = date.fromisoformat(first), date.fromisoformat(last)
    name = part_name(stream, first_day, last_day)
    try:
        for ref in s3.refs_for_days(source.bucket, stream, first_day, last_day):
            page.append(ref)
            if len(page) >= PAGE:
                todo, done = enqueue(backfill.job_id, page)
                found, already, page = found + todo, already + done, []
        todo, done = enqueue(backfill.job_id, page)
    except OSError:
        # Recorded so the backfill can end and show it; raised so that the queue retries.
        row = [backfill_id, name, FAILED, first_day, last_day, found, already, datetime.now(UTC)]
        store.insert(tables.INGEST_BACKFILL_PARTS, [row], _PART_COLUMNS)
        raise
    found, already = found + todo, already + done
    row = [backfill_id, name, DISCOVERED, first_day, last_day, found, already, datetime.now(UTC)]
    store.insert(tables.INGEST_BACKFILL_PARTS, [row], _PART_COLUMNS)
    return found, already


def _load(store: Store, backfill_id: str) -> tuple[Backfill, SourceConfig]:
    backfill = get_backfill(store, backfill_id)
    if backfill is None:
        raise LookupError(f"no backfill {backfill_id}")
    source = source_named(store, backfill.source)
    if source is None:
        raise LookupError(f"backfill {backfill_id}: source {backfill.source} is not configured")
    connect([source])
    return backfill, source


def backfill_status(store: Store, backfill_id: str) -> BackfillStatus | None:
    backfill = get_backfill(store, backfill_id)
    if backfill is None:
        return None
    parts = store.rows(
        f"""SELECT status, count(), sum(objects_found), sum(objects_already_loaded),
            groupArray(100)(part)
        FROM {tables.INGEST_BACKFILL_PARTS} FINAL
        WHERE backfill_id = {{id:String}}
          AND (status = {{expired:String}} OR updated_at >= {{run:DateTime64(3)}})
        GROUP BY status""",
        {"id": backfill_id, "expired": EXPIRED, "run": backfill.run_started_at},
    )
    by_status = {str(r[0]): r for r in parts}
    discovered = by_status.get(DISCOVERED, (DISCOVERED, 0, 0, 0, []))
    expired = by_status.get(EXPIRED, (EXPIRED, 0, 0, 0, []))
    failed = by_status.get(FAILED, (FAILED, 0, 0, 0, []))
    loaded = store.scalar(
        f"""SELECT count() FROM {tables.INGEST_OBJECTS} FINAL
        WHERE job_id = {{job:String}} AND loaded_at >= {{run:DateTime64(3)}}""",
        {"job": backfill.job_id, "run": backfill.run_started_at},
    )
    return BackfillStatus(
        backfill,
        parts_discovered=int(discovered[1]),
        parts_expired=int(expired[1]),
        objects_found=int(discovered[2]),
        objects_already_loaded=int(discovered[3]),
        objects_loaded=int(loaded or 0),
        expired_parts=tuple(sorted(str(p) for p in expired[4])),
        parts_failed=int(failed[1]),
        failed_parts=tuple(sorted(str(p) for p in failed[4])),
    )


def refresh(store: Store, backfill: Backfill) -> BackfillStatus | None:
    """Mark a running backfill finished (and its job discovered) once every part is loaded."""
    status = backfill_status(store, backfill.backfill_id)
    if status is None or not status.finished:
        return status
    jobs.mark_discovered(
        store, backfill.job_id, status.objects_found, status.objects_already_loaded, backfill.warning
    )
    _save(store, Backfill(**{**asdict(status.backfill), "state": FINISHED}))
    return status


def _utc(value: Any) -> datetime:
    if not isinstance(value, datetime):
        return datetime.now(UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
