"""Admin endpoints for S3 sources and backfills (admin tokens only, like every /admin/ path).

    GET    /admin/sources                 the configured sources
    PUT    /admin/sources/{name}          add or replace one (JSON: bucket, prefix, queue_url, ...)
    DELETE /admin/sources/{name}
    POST   /admin/backfills               {"source": name, "from": "2024-01-01", "to": "2024-12-31"}
    GET    /admin/backfills/{id}          progress, parts expired past the retention, finished
    POST   /admin/backfills/{id}/restart  plan it again (the ledger skips what is loaded)

A backfill is recorded here and started by a follow loop (the serving process's in the embedded
mode, a worker's in the distributed one); a request reaching past the retention gets its warning
in the answer before anything is loaded.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from clickhouse.client import Store
from ingest import backfill, sourcesconfig

audit = logging.getLogger("roletrail.audit")


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def source_routes(store: Store, retention_days: int) -> list[BaseRoute]:
    async def list_sources(request: Request) -> Response:
        sources = await run_in_threadpool(sourcesconfig.stored_sources, store)
        return JSONResponse({"sources": [s.as_dict() for s in sources]})

    async def put_source(request: Request) -> Response:
        body = await _body(request)
        if not isinstance(body, dict):
            return JSONResponse({"error": "body must be a JSON object"}, status_code=400)
        try:
            source = sourcesconfig.parse_source({**body, "name": request.path_params["name"]})
            await run_in_threadpool(sourcesconfig.save_source, store, source)
        except sourcesconfig.SourceError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        audit.info("source saved name=%s uri=%s", source.name, source.uri)
        return JSONResponse(source.as_dict())

    async def delete_source(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            deleted = await run_in_threadpool(sourcesconfig.delete_source, store, name)
        except sourcesconfig.SourceError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        if not deleted:
            return JSONResponse({"error": "no such source"}, status_code=404)
        audit.info("source deleted name=%s", name)
        return Response(status_code=204)

    async def post_backfill(request: Request) -> Response:
        body = await _body(request)
        try:
            name, first, last = (
                body["source"],
                date.fromisoformat(body["from"]),
                date.fromisoformat(body["to"]),
            )
        except (TypeError, KeyError, ValueError):
            return JSONResponse(
                {"error": 'body must be {"source": name, "from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}'},
                status_code=400,
            )
        source = await run_in_threadpool(sourcesconfig.source_named, store, str(name))
        if source is None:
            return JSONResponse({"error": f"no source named {name!r}"}, status_code=404)
        try:
            token = request.scope.get("state", {}).get("token_name", "")
            created = await run_in_threadpool(
                backfill.request_backfill, store, source, first, last, retention_days, token
            )
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        audit.info("backfill id=%s source=%s from=%s to=%s", created.backfill_id, source.name, first, last)
        answer = {
            "backfill_id": created.backfill_id,
            "job_id": created.job_id,
            "warning": created.warning or None,
        }
        return JSONResponse(answer, status_code=202)

    async def restart_backfill(request: Request) -> Response:
        restarted = await run_in_threadpool(
            backfill.request_restart, store, request.path_params["backfill_id"]
        )
        if restarted is None:
            return JSONResponse({"error": "no such backfill"}, status_code=404)
        audit.info("backfill restart id=%s", restarted.backfill_id)
        return JSONResponse({"backfill_id": restarted.backfill_id, "state": restarted.state}, status_code=202)

    async def get_backfill(request: Request) -> Response:
        status = await run_in_threadpool(backfill.backfill_status, store, request.path_params["backfill_id"])
        if status is None:
            return JSONResponse({"error": "no such backfill"}, status_code=404)
        return JSONResponse(status.as_dict(), headers={"Cache-Control": "no-store"})

    return [
        Route("/admin/sources", list_sources, methods=["GET"]),
        Route("/admin/sources/{name}", put_source, methods=["PUT"]),
        Route("/admin/sources/{name}", delete_source, methods=["DELETE"]),
        Route("/admin/backfills", post_backfill, methods=["POST"]),
        Route("/admin/backfills/{backfill_id}", get_backfill, methods=["GET"]),
        Route("/admin/backfills/{backfill_id}/restart", restart_backfill, methods=["POST"]),
    ]
