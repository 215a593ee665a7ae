"""Ingest jobs: a request to load some paths, its discovery and its progress (read from the ledger)."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse import tables
from clickhouse.client import Store

_JOB_COLUMNS = (
    "job_id", "requested_by", "paths", "objects_found", "objects_already_loaded", "discovered", "message",
    "created_at", "updated_at",
)  # fmt: skip


@dataclass(frozen=True)
class ObjectProblem:
    uri: str
    status: str
    message: str
    records_bad: int


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    paths: tuple[str, ...]
    discovered: bool
    objects_found: int
    objects_already_loaded: int
    objects_done: int
    records_read: int
    records_loaded: int
    records_bad: int
    records_expired: int
    by_status: dict[str, int]
    problems: tuple[ObjectProblem, ...]
    message: str

    @property
    def finished(self) -> bool:
        return self.discovered and self.objects_done >= self.objects_found

    def as_dict(self) -> dict[str, Any]:
        """The status as JSON-ready data (what the admin endpoint returns), `finished` included."""
        data = asdict(self)
        data["paths"] = list(self.paths)
        data["problems"] = [asdict(problem) for problem in self.problems]
        data["finished"] = self.finished
        return data


def create_job(store: Store, paths: list[str], requested_by: str) -> str:
    job_id = uuid.uuid4().hex
    now = datetime.now(UTC)
    store.insert(tables.INGEST_JOBS, [[job_id, requested_by, paths, 0, 0, False, "", now, now]], _JOB_COLUMNS)
    return job_id


def mark_discovered(store: Store, job_id: str, found: int, already: int, message: str = "") -> None:
    rows = store.rows(
        f"SELECT requested_by, paths, created_at FROM {tables.INGEST_JOBS} FINAL"
        " WHERE job_id = {job:String}",
        {"job": job_id},
    )
    requested_by, paths, created = rows[0] if rows else ("", [], datetime.now(UTC))
    store.insert(
        tables.INGEST_JOBS,
        [[job_id, requested_by, paths, found, already, True, message, created, datetime.now(UTC)]],
        _JOB_COLUMNS,
    )


def job_status(store: Store, job_id: str, problem_limit: int = 100) -> JobStatus | None:
    jobs = store.rows(
        f"""SELECT paths, discovered, objects_found, objects_already_loaded, message
        FROM {tables.INGEST_JOBS} FINAL WHERE job_id = {{job:String}}""",
        {"job": job_id},
    )
    if not jobs:
        return None
    paths, discovered, found, already, message = jobs[0]
    rows = store.rows(
        f"""SELECT status, count(), sum(records_read), sum(records_loaded), sum(records_bad),
            sum(records_expired)
        FROM {tables.INGEST_OBJECTS} FINAL WHERE job_id = {{job:String}} GROUP BY status""",
        {"job": job_id},
    )
    by_status = {str(r[0]): int(r[1]) for r in rows}
    totals = [sum(int(r[i]) for r in rows) for i in range(2, 6)]
    problems = store.rows(
        f"""SELECT uri, status, message, records_bad FROM {tables.INGEST_OBJECTS} FINAL
        WHERE job_id = {{job:String}}
          AND (records_bad > 0 OR status IN ('failed', 'partial') OR message != '')
        ORDER BY uri LIMIT {{limit:UInt32}}""",
        {"job": job_id, "limit": problem_limit},
    )
    return JobStatus(
        job_id=job_id,
        paths=tuple(paths),
        discovered=bool(discovered),
        objects_found=int(found),
        objects_already_loaded=int(already),
        objects_done=sum(by_status.values()),
        records_read=totals[0],
        records_loaded=totals[1],
        records_bad=totals[2],
        records_expired=totals[3],
        by_status=by_status,
        problems=tuple(ObjectProblem(str(u), str(s), str(m), int(b)) for u, s, m, b in problems),
        message=str(message),
    )
