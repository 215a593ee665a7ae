"""Ingest over GraphQL: the admin-only `ingest` mutation and `ingestJob` query (the checks and the
submission are api.ingest_jobs', shared with `POST /admin/ingest`)."""

from __future__ import annotations

from typing import Any

import strawberry
from starlette.concurrency import run_in_threadpool

from api.context import Info
from api.errors import BadRequest, Forbidden
from api.fields import field
from api.ingest_jobs import IngestRefused
from api.permissions import ADMIN

MAX_JOB_ID = 128


@strawberry.type(description="How many objects of a job ended in one status (loaded, partial, failed...).")
class IngestStatusCount:
    status: str
    objects: int


@strawberry.type(description="An object of a job that failed, loaded partly, or had bad records.")
class IngestProblem:
    uri: str
    status: str
    message: str
    records_bad: int


@strawberry.type(description="An ingest job: what it was asked to load and how far it got.")
class IngestJob:
    id: strawberry.ID
    paths: list[str]
    discovered: bool = strawberry.field(description="Every object under the paths has been listed.")
    finished: bool
    objects_found: int
    objects_already_loaded: int
    objects_done: int
    records_read: int
    records_loaded: int
    records_bad: int
    records_expired: int
    by_status: list[IngestStatusCount]
    problems: list[IngestProblem] = strawberry.field(description="At most 100, by object URI.")
    message: str | None

    @classmethod
    def from_status(cls, data: dict[str, Any]) -> IngestJob:
        return cls(
            id=strawberry.ID(str(data["job_id"])),
            paths=list(data["paths"]),
            discovered=bool(data["discovered"]),
            finished=bool(data["finished"]),
            objects_found=int(data["objects_found"]),
            objects_already_loaded=int(data["objects_already_loaded"]),
            objects_done=int(data["objects_done"]),
            records_read=int(data["records_read"]),
            records_loaded=int(data["records_loaded"]),
            records_bad=int(data["records_bad"]),
            records_expired=int(data["records_expired"]),
            by_status=[IngestStatusCount(status=s, objects=n) for s, n in sorted(data["by_status"].items())],
            problems=[IngestProblem(**problem) for problem in data["problems"]],
            message=str(data["message"]) or None,
        )

    @classmethod
    def submitted(cls, job_id: str, paths: list[str]) -> IngestJob:
        """A job whose status is not readable yet (the queue has not recorded it)."""
        return cls.from_status({
            "job_id": job_id, "paths": paths, "discovered": False, "finished": False, "objects_found": 0,
            "objects_already_loaded": 0, "objects_done": 0, "records_read": 0, "records_loaded": 0,
            "records_bad": 0, "records_expired": 0, "by_status": {}, "problems": [], "message": "",
        })  # fmt: skip


def _require_admin(info: Info) -> None:
    if info.context.token_scope != ADMIN:
        raise Forbidden(f"token {info.context.token_name!r} has scope 'read'; ingest needs an admin token")


async def _status(info: Info, job_id: str) -> dict[str, Any] | None:
    try:
        return await run_in_threadpool(info.context.ingest.status, info.context.store, job_id)
    except IngestRefused as refused:
        raise Forbidden(str(refused)) from None


@strawberry.type
class Query:
    @field(description="An ingest job's progress and per-object problems (admin tokens); null: no such job.")
    async def ingest_job(self, info: Info, id: strawberry.ID) -> IngestJob | None:
        _require_admin(info)
        job_id = str(id).strip()
        if not job_id or len(job_id) > MAX_JOB_ID:
            raise BadRequest(f"id must be 1 to {MAX_JOB_ID} characters")
        found = await _status(info, job_id)
        return IngestJob.from_status(found) if found else None


@strawberry.type
class Mutation:
    @field(
        description="Load the logs under these paths (files or folders under the server's configured "
        "source roots; admin tokens only). Returns the job; poll `ingestJob` for its progress."
    )
    async def ingest(self, info: Info, paths: list[str]) -> IngestJob:
        _require_admin(info)
        try:
            job_id = await run_in_threadpool(info.context.ingest.submit, paths, info.context.token_name)
        except IngestRefused as refused:
            error = BadRequest if refused.status == 400 else Forbidden
            raise error(str(refused)) from None
        found = await _status(info, job_id) if info.context.ingest.job_status else None
        return IngestJob.from_status(found) if found else IngestJob.submitted(job_id, paths)
