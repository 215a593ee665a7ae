"""Dramatiq actors: discover objects under paths, load a batch of objects. Messages carry references
(source, URI, size, kind), never log bodies.

Import after ingest.broker.setup_broker(); call configure() once per process before the worker
starts, so that the actors know the store and the retention.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import dramatiq

from ingest import jobs
from ingest.load import BATCH_OBJECTS, SMALL_OBJECT_BYTES, Loader
from ingest.sources import LogType, ObjectRef, walk

log = logging.getLogger(__name__)

QUEUE = "ingest"
# A message loads several small objects (one INSERT) or one large object.
BATCH_BYTES = 32 * 1024 * 1024
DISCOVER_PAGE = 1000


@dataclass
class _Runtime:
    loader: Loader | None = None


_runtime = _Runtime()


def configure(loader: Loader) -> None:
    _runtime.loader = loader


def _loader() -> Loader:
    if _runtime.loader is None:
        raise RuntimeError("ingest.actors.configure() was not called in this process")
    return _runtime.loader


def batches(refs: list[ObjectRef]) -> list[list[ObjectRef]]:
    """Group refs for load messages: small objects together, each large object alone."""
    groups: list[list[ObjectRef]] = []
    current: list[ObjectRef] = []
    size = 0
    for ref in refs:
        if ref.size > SMALL_OBJECT_BYTES:
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
    missing = [path for path in paths if not Path(path).exists()]
    page: list[ObjectRef] = []
    for path in paths:
        if path in missing:
            continue
        for ref in walk(Path(path)):
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
    done = loader.done(refs)
    todo = [ref for ref in refs if ref.object_id not in done]
    for group in batches(todo):
        load_objects.send(job_id, [_message(ref) for ref in group])
    return found + len(todo), already + len(refs) - len(todo)


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
    objects = [ObjectRef(**{**fields, "log_type": LogType(fields["log_type"])}) for fields in refs]
    for result in _loader().load_many(objects, job_id):
        log.info("%s %s: %s read, %s loaded, %s bad", result.status, result.uri, result.records_read,
                 result.records_loaded, result.records_bad)  # fmt: skip
