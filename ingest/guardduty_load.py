"""Loading GuardDuty finding objects into guardduty_findings, registered with the Loader.

Findings are few and deeply nested (a busy organisation has thousands, not millions), so they are
parsed in Python (ingest.guardduty) and inserted as typed rows in bounded batches; ClickHouse never
parses them, so no JSON default can hide a bad one: each is counted where Python saw it. Every
version of a finding is inserted; guardduty_findings (ReplacingMergeTree by `version`) keeps the
newest, so loading an export twice, or its files in any order, leaves the same findings. Each
insert carries a deduplication token made of the load id and the batch's content.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson

from clickhouse import tables
from clickhouse.client import Store
from ingest.cloudtrail import BadItem, Skipped
from ingest.guardduty import Finding, findings_of
from ingest.instances import observations_from_finding, record_interfaces
from ingest.load import FAILED, LOADED, PARTIAL, LoadResult, register_loader
from ingest.sources import CorruptObject, LogType, ObjectRef, object_stream

if TYPE_CHECKING:
    from ingest.load import Loader

BATCH_FINDINGS = 2000
COLUMNS = (
    "finding_id", "account_id", "region", "partition", "arn", "type", "title", "description", "severity",
    "created_at", "updated_at", "first_seen", "last_seen", "count", "archived", "resource_type",
    "access_key_id", "principal_id", "user_name", "user_type", "instance_id", "action_type", "api_name",
    "api_service", "remote_ips", "resources", "object_id", "raw", "version",
)  # fmt: skip


def version(finding: Finding) -> int:
    """The replacing version: the newest update wins; at the same moment, the archived copy."""
    millis = int(finding.updated_at.timestamp() * 1000)
    return millis * 2 + int(finding.archived)


def _row(finding: Finding, load_id: str) -> list[Any]:
    f = finding
    return [
        f.finding_id, f.account_id, f.region, f.partition, f.arn, f.type, f.title, f.description, f.severity,
        f.created_at, f.updated_at, f.first_seen, f.last_seen, f.count, f.archived, f.resource_type,
        f.access_key_id, f.principal_id, f.user_name, f.user_type, f.instance_id, f.action_type, f.api_name,
        f.api_service, list(f.remote_ips), [list(r) for r in f.resources], load_id, f.raw.decode(),
        version(f),
    ]  # fmt: skip


class _Tally:
    def __init__(self) -> None:
        self.loaded = 0
        self.expired = 0
        self.bad: list[BadItem] = []
        self.skipped: dict[str, int] = {}
        self.first: datetime | None = None
        self.last: datetime | None = None
        self.corrupt = ""

    def seen(self, finding: Finding) -> None:
        self.loaded += 1
        self.first = min(self.first or finding.first_seen, finding.first_seen)
        self.last = max(self.last or finding.last_seen, finding.last_seen)


def load_findings(loader: Loader, ref: ObjectRef, load_id: str) -> LoadResult:
    """Load one object of findings (export, GetFindings dump or EventBridge archive).

    Bad findings are recorded in ingest_rejects with their position and reason; the others load.
    Findings whose activity was last seen before the retention are counted as expired, not stored.
    """
    stream = object_stream(ref)
    tally = _Tally()
    retention = loader.retention_days
    cutoff = datetime.now(UTC) - timedelta(days=retention) if retention else None
    batch: list[Finding] = []
    chunk = 0
    for item in findings_of(_until_corrupt(stream.pieces(), tally)):
        if isinstance(item, BadItem):
            tally.bad.append(item)
        elif isinstance(item, Skipped):
            tally.skipped[item.kind] = tally.skipped.get(item.kind, 0) + 1
        elif cutoff is not None and item.last_seen < cutoff:
            tally.expired += 1
        else:
            tally.seen(item)
            batch.append(item)
            if len(batch) >= BATCH_FINDINGS:
                _insert(loader.store, batch, load_id, chunk)
                chunk += 1
                batch = []
    _insert(loader.store, batch, load_id, chunk)
    if tally.corrupt:
        position = len(tally.bad) + tally.loaded + tally.expired + sum(tally.skipped.values())
        reason = f"{tally.corrupt} after {stream.bytes_read} stored bytes"
        tally.bad.append(BadItem(position, reason, ""))
    _reject(loader.store, load_id, tally.bad)
    return _result(ref, stream.bytes_read, tally, retention)


def _until_corrupt(pieces: Iterator[bytes], tally: _Tally) -> Iterator[bytes]:
    try:
        yield from pieces
    except CorruptObject as exc:
        tally.corrupt = str(exc)


def _insert(store: Store, batch: list[Finding], load_id: str, chunk: int) -> None:
    if not batch:
        return
    digest = hashlib.sha256(b"\n".join(f.raw for f in batch)).hexdigest()
    store.insert(
        tables.GUARDDUTY_FINDINGS,
        [_row(f, load_id) for f in batch],
        list(COLUMNS),
        {
            "insert_deduplication_token": f"guardduty:{load_id}:{chunk}:{digest}",
            # Partitioned by month of creation: an export can hold findings of many months.
            "throw_on_max_partitions_per_insert_block": 0,
        },
    )
    # A finding about an instance shows its interfaces and addresses: they map flows to it.
    observations = [o for f in batch if f.instance_id for o in observations_from_finding(orjson.loads(f.raw))]
    record_interfaces(store, observations)


def _reject(store: Store, load_id: str, bad: list[BadItem]) -> None:
    if not bad:
        return
    rows = [[load_id, 0, item.position, item.reason[:200], item.excerpt] for item in bad]
    token = hashlib.sha256(orjson.dumps(rows)).hexdigest()
    store.insert(
        tables.INGEST_REJECTS,
        rows,
        ["object_id", "chunk", "position", "reason", "excerpt"],
        {"insert_deduplication_token": f"rejects:{token}"},
    )


def _result(ref: ObjectRef, bytes_read: int, tally: _Tally, retention: int) -> LoadResult:
    bad = len(tally.bad)
    skipped = sum(tally.skipped.values())
    notes = [f"{count} {kind} skipped" for kind, count in sorted(tally.skipped.items())]
    if tally.expired:
        notes.append(f"{tally.expired} findings older than the {retention}-day retention")
    if tally.corrupt:
        notes.insert(0, tally.corrupt)
    if bad:
        notes.insert(0, f"{bad} bad findings (see ingest_rejects)")
    if not (tally.loaded or tally.expired or bad or skipped):
        notes.append("no findings in this object")
    nothing_good = tally.loaded == 0 and tally.expired == 0
    status = FAILED if bad and nothing_good else PARTIAL if bad else LOADED
    return LoadResult(
        ref.object_id, ref.uri, LogType.GUARDDUTY, status,
        records_read=tally.loaded + tally.expired + bad + skipped, records_loaded=tally.loaded,
        records_bad=bad, records_expired=tally.expired, skipped_items=skipped, bytes_read=bytes_read,
        first_event=tally.first, last_event=tally.last, message="; ".join(notes),
    )  # fmt: skip


register_loader(LogType.GUARDDUTY, load_findings)
