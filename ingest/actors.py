"""Dramatiq actors: discover objects under paths, load a batch of objects, plan and discover the
parts of an S3 backfill (ingest.backfill). Messages carry references (source, URI, size, kind),
never log bodies.

Import after ingest.broker.setup_broker(); call configure() once per process before the worker
starts, so that the actors know the store and the retention.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import dramatiq

from clickhouse import tables
from ingest import backfill, flowlogs, jobs, s3
from ingest.claims import Claims, MemoryClaims
from ingest.load import BATCH_OBJECTS, FAILED, SMALL_OBJECT_BYTES, Loader
from ingest.sources import LogType, ObjectRef, walk

log = logging.getLogger(__name__)

QUEUE = "ingest"
# A message loads several small objects (one INSERT) or one large object.
BATCH_BYTES = 32 * 1024 * 1024
DISCOVER_PAGE = 1000


@dataclass
class _Runtime:
    loader: Loader | None = None
    claims: Claims = field(default_factory=MemoryClaims)
    claim_seconds: int = 3600


_runtime = _Runtime()


def configure(loader: Loader, claims: Claims | None = None, claim_seconds: int = 3600) -> None:
    _runtime.loader = loader
    _runtime.claims = claims or MemoryClaims()
    _runtime.claim_seconds = claim_seconds


def _loader() -> Loader:
    if _runtime.loader is None:
        raise RuntimeError("ingest.actors.configure() was not called in this process")
    return _runtime.loader


def batches(
    refs: list[ObjectRef], flow_whole_bytes: int = flowlogs.CHUNK_BYTES // flowlogs.WHOLE_FRACTION
) -> list[list[ObjectRef]]:
    """Group refs for load messages: small objects together, each large object alone. Flow log
    objects up to flow_whole_bytes (the loader's Loader.flow_whole_bytes) count as small: the
    loader reads them whole and sends those of one format in one INSERT (ingest.flowlog_load)."""
    groups: list[list[ObjectRef]] = []
    current: list[ObjectRef] = []
    size = 0
    for ref in refs:
        limit = flow_whole_bytes if ref.log_type is LogType.FLOWLOGS else SMALL_OBJECT_BYTES
        if ref.size > limit:
            groups.append([ref])
            continue
        if current and (len(current) >= BATCH_OBJECTS or size + ref.size > BATCH_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(ref)
        size += ref.size
    if current:
        groups.append(current)
    return groups


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=15 * 60 * 1000)
def discover_objects(job_id: str, paths: list[str]) -> None:
    """List the objects under each path once, skip those already loaded, enqueue loads in batches."""
    loader = _loader()
    seen: set[str] = set()
    found = already = 0
    missing = [path for path in paths if not path.startswith(s3.SCHEME) and not Path(path).exists()]
    page: list[ObjectRef] = []
    for path in paths:
        if path in missing:
            continue
        for ref in s3.walk_uri(path) if path.startswith(s3.SCHEME) else walk(Path(path)):
            if ref.object_id in seen:
                continue  # overlapping paths (a folder and its subfolder) name an object once
            seen.add(ref.object_id)
            page.append(ref)
            if len(page) >= DISCOVER_PAGE:
                found, already = _enqueue(loader, job_id, page, found, already)
                page = []
    found, already = _enqueue(loader, job_id, page, found, already)
    message = f"not found: {', '.join(missing)}" if missing else ""
    jobs.mark_discovered(loader.store, job_id, found, already, message)


def _enqueue(loader: Loader, job_id: str, refs: list[ObjectRef], found: int, already: int) -> tuple[int, int]:
    todo, done = enqueue_refs(job_id, refs)
    return found + todo, already + done


def enqueue_refs(job_id: str, refs: list[ObjectRef]) -> tuple[int, int]:
    """Enqueue loads of the refs neither loaded (ledger) nor already on their way (claimed by
    another discovery); returns (enqueued, skipped)."""
    loader = _loader()
    done = loader.done(refs)
    fresh = [ref for ref in refs if ref.object_id not in done]
    claimed = _runtime.claims.claim([loader.load_id(ref) for ref in fresh], _runtime.claim_seconds)
    todo = [ref for ref in fresh if loader.load_id(ref) in claimed]
    for group in batches(todo, loader.flow_whole_bytes):
        load_objects.send(job_id, [_message(ref) for ref in group])
    return len(todo), len(refs) - len(todo)


def _message(ref: ObjectRef) -> dict[str, Any]:
    fields = asdict(ref)
    fields["log_type"] = ref.log_type.value
    return fields


# A missing or unreadable file is recorded as failed in the ledger; retrying cannot help.
@dramatiq.actor(
    queue_name=QUEUE,
    max_retries=3,
    time_limit=60 * 60 * 1000,
    throws=(FileNotFoundError, IsADirectoryError, PermissionError),
)
def load_objects(job_id: str, refs: list[dict[str, Any]]) -> None:
    """Load objects; each outcome (counts, errors) goes to the ledger."""
    loader = _loader()
    listed = [ObjectRef(**{**fields, "log_type": LogType(fields["log_type"])}) for fields in refs]
    # A redelivered message (a worker died after loading) finds its objects in the ledger; a retry
    # after a failure loads them again.
    done = loader.done(listed) - _failed(loader, listed)
    objects = [ref for ref in listed if ref.object_id not in done]
    try:
        s3.prefetch(objects)
        results = loader.load_many(objects, job_id) if objects else []
    finally:
        s3.release(objects)
        _runtime.claims.release(loader.load_id(ref) for ref in listed)
    for result in results:
        log.info("%s %s: %s read, %s loaded, %s bad", result.status, result.uri, result.records_read,
                 result.records_loaded, result.records_bad)  # fmt: skip


def _failed(loader: Loader, refs: list[ObjectRef]) -> set[str]:
    rows = loader.store.rows(
        f"""SELECT object_id FROM {tables.INGEST_OBJECTS} FINAL
        WHERE object_id IN {{ids:Array(String)}} AND status = {{failed:String}}""",
        {"ids": [ref.object_id for ref in refs], "failed": FAILED},
    )
    return {str(row[0]) for row in rows}


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=60 * 60 * 1000, throws=(LookupError,))
def plan_backfill(backfill_id: str) -> None:
    """List a backfill's streams and send one discovery per stream and month."""
    backfill.plan(_loader().store, backfill_id, _send_part)


def _send_part(backfill_id: str, stream: str, first: str, last: str) -> None:
    discover_backfill_part.send(backfill_id, stream, first, last)


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=60 * 60 * 1000, throws=(LookupError,))
def discover_backfill_part(backfill_id: str, stream: str, first: str, last: str) -> None:
    """List the day prefixes of one backfill part and enqueue the objects not loaded yet."""
    backfill.discover_part(_loader().store, backfill_id, stream, first, last, enqueue_refs)
