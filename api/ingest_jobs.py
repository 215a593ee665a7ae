"""Ingest over the API: the checks and submission shared by `POST /admin/ingest` and the GraphQL
`ingest` mutation, and job status for `GET /admin/jobs/{id}` and the `ingestJob` query.

Paths are accepted only under the source roots the operator configured (ROLETRAIL_SOURCE_ROOTS or
`serve --allow`), after resolving `..` and symbolic links, so no request can make the server read
an arbitrary file.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from api.errors import ClientError
from clickhouse.client import Store

audit = logging.getLogger("roletrail.audit")

# Submits an ingest job for paths and returns its id; the CLI provides it (it owns the queue).
Enqueue = Callable[[list[str], str], str]
# A job's status (an object with `as_dict()`), or None for an unknown job; the CLI provides it.
JobStatusReader = Callable[[Store, str], Any]
MAX_PATHS = 100
MAX_PATH_LENGTH = 4096


class IngestRefused(ClientError):
    """An ingest request the server will not run; `status` is the HTTP status that says why."""

    code = "INGEST_REFUSED"

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def allowed(path: str, roots: tuple[Path, ...]) -> bool:
    resolved = Path(path).resolve()
    return any(resolved == root.resolve() or resolved.is_relative_to(root.resolve()) for root in roots)


@dataclass(frozen=True)
class IngestService:
    enqueue: Enqueue | None = None
    source_roots: tuple[Path, ...] = ()
    job_status: JobStatusReader | None = None

    def submit(self, paths: object, token_name: str) -> str:
        """Check the paths and submit a job for them; its id, or IngestRefused saying why not."""
        if self.enqueue is None:
            raise IngestRefused("this server does not run ingest workers", 503)
        if (
            not isinstance(paths, list)
            or not paths
            or not all(isinstance(p, str) and p.strip() for p in paths)
        ):
            raise IngestRefused('paths must be a non-empty list of paths: {"paths": ["..."]}', 400)
        if len(paths) > MAX_PATHS or any(len(p) > MAX_PATH_LENGTH or "\x00" in p for p in paths):
            raise IngestRefused(f"at most {MAX_PATHS} paths of at most {MAX_PATH_LENGTH} characters", 400)
        if not self.source_roots:
            raise IngestRefused(
                "no source roots configured: set ROLETRAIL_SOURCE_ROOTS to the folders the API may read",
                403,
            )
        refused = [p for p in paths if not allowed(p, self.source_roots)]
        if refused:
            raise IngestRefused(f"outside the allowed source roots: {', '.join(refused)}", 403)
        job_id = self.enqueue([str(Path(p).resolve()) for p in paths], token_name)
        audit.info("ingest job=%s token=%s paths=%s", job_id, token_name, paths)
        return job_id

    def status(self, store: Store, job_id: str) -> dict[str, Any] | None:
        """The job's status as JSON-ready data, None for an unknown job."""
        if self.job_status is None:
            raise IngestRefused("jobs are not available", 503)
        found = self.job_status(store, job_id)
        if found is None:
            return None
        data: dict[str, Any] = found.as_dict()
        return data
