"""`GET /export/sessions/{access_key_id}/calls`: every call of a credential, oldest first, streamed.

`format=jsonl` (default; one JSON object a line, `raw=1` adds the stored record under "raw") or
`format=csv` (a header row, then one row a call). `from` / `to` (ISO-8601, UTC when no offset)
narrow the scope [from, to); by default it is the whole trail. The store is read in keyset pages of
`ApiSettings.export_page_size` rows inside the streaming response, so memory stays flat whatever
the credential's size.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from api.cloudtrail import reads
from api.errors import BadRequest
from api.pagination import EARLIEST, LATEST, storable_time
from api.settings import ApiSettings
from clickhouse.client import Store

log = logging.getLogger(__name__)

FORMATS = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}
COLUMNS = (
    "event_time",
    "event_id",
    "recipient_account_id",
    "aws_region",
    "event_source",
    "event_name",
    "error_code",
    "source_ip_address",
    "user_agent",
)
MAX_KEY_LENGTH = 512
# Cells a spreadsheet would read as a formula: user agents and the like are attacker-controlled.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _time(value: str | None, name: str) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"`{name}` must be an ISO-8601 date-time") from None
    return storable_time(parsed, name)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _record(call: reads.ApiCall) -> dict[str, Any]:
    record: dict[str, Any] = {name: getattr(call, name) for name in COLUMNS}
    record["event_time"] = _utc(call.event_time).isoformat()
    return record


def csv_cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _csv_lines(rows: Sequence[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows(rows)
    return out.getvalue()


def _raw(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


async def stream_calls(
    store: Store, key: str, start: datetime, end: datetime, fmt: str, raw: bool, page_size: int
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_lines([COLUMNS]).encode()
    after: tuple[datetime, str, str] | None = None
    while True:
        page = await run_in_threadpool(
            reads.api_calls, store, [key], start=start, end=end, first=page_size, after=after
        )
        calls = page.items
        if fmt == "csv":
            rows = [[csv_cell(value) for value in _record(call).values()] for call in calls]
            yield _csv_lines(rows).encode()
        else:
            records = {}
            if raw and calls:
                keys = [(c.session_key, c.recipient_account_id, c.event_id) for c in calls]
                records = await run_in_threadpool(reads.raw_records, store, keys)
            lines = []
            for call in calls:
                record = _record(call)
                if raw:
                    record["raw"] = _raw(
                        records.get((call.session_key, call.recipient_account_id, call.event_id))
                    )
                lines.append(orjson.dumps(record) + b"\n")
            yield b"".join(lines)
        if not page.has_next or not calls:
            return
        last = calls[-1]
        after = (last.event_time, last.recipient_account_id, last.event_id)


def export_endpoint(settings: ApiSettings, store: Store) -> Any:
    async def export_calls(request: Request) -> Response:
        key = request.path_params["access_key_id"].strip()
        params = request.query_params
        fmt = params.get("format", "jsonl")
        try:
            if not key or len(key) > MAX_KEY_LENGTH:
                raise BadRequest(f"the access key id must be 1-{MAX_KEY_LENGTH} characters")
            if fmt not in FORMATS:
                raise BadRequest(f"`format` must be one of {', '.join(FORMATS)}")
            start = _time(params.get("from"), "from") or EARLIEST
            end = _time(params.get("to"), "to") or LATEST.replace(year=LATEST.year - 1)
            if start >= end:
                raise BadRequest("`from` must be before `to`")
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        raw = params.get("raw", "") in ("1", "true")
        filename = re.sub(r"[^A-Za-z0-9_-]", "_", key)[:64] + f"-calls.{fmt}"
        return StreamingResponse(
            stream_calls(store, key, start, end, fmt, raw, settings.export_page_size),
            media_type=FORMATS[fmt],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return export_calls
