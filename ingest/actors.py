"""Dramatiq actors: discover objects under a path, load one object. Messages carry references only.

Import after ingest.broker.setup_broker(); call configure() once per process before the worker
starts, so that the actors know the store and the retention.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import dramatiq

from ingest import jobs
from ingest.load import Loader
from ingest.sources import LogType, ObjectRef, walk

log = logging.getLogger(__name__)

QUEUE = "ingest"


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


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=15 * 60 * 1000, throws=(FileNotFoundError,))
def discover_objects(job_id: str, paths: list[str]) -> None:
    """List the objects under each path, skip those already loaded, enqueue one load per object."""
    loader = _loader()
    found = already = 0
    missing: list[str] = []
    for path in paths:
        root = Path(path)
        if not root.exists():
            missing.append(path)
            continue
        batch: list[ObjectRef] = []
        for ref in walk(root):
            batch.append(ref)
            if len(batch) >= 1000:
                found, already = _enqueue(loader, job_id, batch, found, already)
                batch = []
        found, already = _enqueue(loader, job_id, batch, found, already)
    message = f"not found: {', '.join(missing)}" if missing else ""
    jobs.mark_discovered(loader.store, job_id, found, already, message)


def _enqueue(loader: Loader, job_id: str, refs: list[ObjectRef], found: int, already: int) -> tuple[int, int]:
    done = loader.done(refs)
    for ref in refs:
        if ref.object_id in done:
            already += 1
            continue
        found += 1
        load_object.send(job_id, ref.source, ref.uri, ref.size, ref.log_type.value, ref.account_id, ref.region)
    return found, already


@dramatiq.actor(queue_name=QUEUE, max_retries=3, time_limit=60 * 60 * 1000, throws=(FileNotFoundError,))
def load_object(job_id: str, source: str, uri: str, size: int, log_type: str, account_id: str, region: str) -> None:
    """Load one object; the outcome (counts, errors) goes to the ledger."""
    ref = ObjectRef(source, uri, size, LogType(log_type), account_id, region)
    result = _loader().load(ref, job_id)
    log.info("%s %s: %s read, %s loaded, %s bad", result.status, uri, result.records_read,
             result.records_loaded, result.records_bad)
