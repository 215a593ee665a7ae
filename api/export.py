"""Activity exports, streamed, oldest first:

* `GET /export/sessions/{access_key_id}/calls`: every call of a credential;
* `GET /export/principals/{kind}/{identifier}/calls`: every call of every temporary credential
  chained from a principal (what `Principal.apiCalls` lists; `identifier` canonical or an
  unambiguous bare name, URL-encoded; an unknown principal is a 404).

A token limited to accounts (api.scoping) exports only the calls those accounts logged, of the
credentials it may see; a principal it may not see is a 404, like an unknown one.

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

from api import scoping
from api.cloudtrail import reads
from api.cloudtrail.attribution import principal_credentials
from api.cloudtrail.principals import PrincipalKind
from api.errors import BadRequest
from api.pagination import EARLIEST, LATEST, storable_time
from api.scoped_reads import ScopedReads
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
    store: Store,
    keys: Sequence[str],
    start: datetime,
    end: datetime,
    fmt: str,
    raw: bool,
    page_size: int,
    accounts: scoping.Accounts = None,
) -> AsyncIterator[bytes]:
    if fmt == "csv":
        yield _csv_lines([COLUMNS]).encode()
    after: tuple[datetime, str, str] | None = None
    while True:
        if not keys:
            return
        page = await run_in_threadpool(
            reads.api_calls,
            store,
            keys,
            start=start,
            end=end,
            first=page_size,
            after=after,
            accounts=accounts,
        )
        calls = page.items
        if fmt == "csv":
            rows = [[csv_cell(value) for value in _record(call).values()] for call in calls]
            yield _csv_lines(rows).encode()
        else:
            records = {}
            if raw and calls:
                wanted = [(c.session_key, c.recipient_account_id, c.event_id) for c in calls]
                records = await run_in_threadpool(reads.raw_records, store, wanted)
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


def _scope(params: Any) -> tuple[str, datetime, datetime]:
    fmt = str(params.get("format", "jsonl"))
    if fmt not in FORMATS:
        raise BadRequest(f"`format` must be one of {', '.join(FORMATS)}")
    start = _time(params.get("from"), "from") or EARLIEST
    end = _time(params.get("to"), "to") or LATEST.replace(year=LATEST.year - 1)
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return fmt, start, end


def _bounded(value: str, name: str) -> str:
    value = value.strip()
    if not value or len(value) > MAX_KEY_LENGTH:
        raise BadRequest(f"the {name} must be 1-{MAX_KEY_LENGTH} characters")
    return value


def _accounts(request: Request) -> scoping.Accounts:
    accounts: scoping.Accounts = request.scope.get("state", {}).get("token_accounts")
    return accounts


def _stream(
    settings: ApiSettings, store: Store, request: Request, keys: Sequence[str], name: str, fmt: str,
    start: datetime, end: datetime,
) -> Response:  # fmt: skip
    raw = request.query_params.get("raw", "") in ("1", "true")
    filename = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] + f"-calls.{fmt}"
    return StreamingResponse(
        stream_calls(store, keys, start, end, fmt, raw, settings.export_page_size, _accounts(request)),
        media_type=FORMATS[fmt],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_endpoint(settings: ApiSettings, store: Store) -> Any:
    async def export_calls(request: Request) -> Response:
        try:
            key = _bounded(request.path_params["access_key_id"], "access key id")
            fmt, start, end = _scope(request.query_params)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        # A credential the token may not see exports nothing, exactly like an unknown one.
        visible = await run_in_threadpool(scoping.visible_keys, store, [key], _accounts(request))
        return _stream(settings, store, request, sorted(visible), key, fmt, start, end)

    return export_calls


def principal_keys(
    store: Store, kind: PrincipalKind, identifier: str, accounts: scoping.Accounts
) -> tuple[str, ...] | None:
    """The temporary credentials of a principal (canonical identifier or unambiguous bare name) that
    the token may see; None when the store knows no such principal (or the token may not see it)."""

    def credentials(ident: str) -> tuple[str, ...]:
        if accounts is None:
            return principal_credentials(store, kind.value, ident).keys
        found = ScopedReads(accounts).principals(store, [(kind.value, ident)])[(kind.value, ident)]
        # Visible only when some credential's origin (or federated user) is the principal itself.
        owned = [
            line
            for line in found.lineages.values()
            if (line.federated_user if kind is PrincipalKind.FEDERATION_TOKEN_USER else line.origin)
        ]
        return found.keys if owned else ()

    keys = credentials(identifier)
    if not keys:
        candidates = reads.canonical_identifiers(store, kind.value, identifier)
        if len(candidates) == 1 and candidates[0] != identifier:
            keys = credentials(candidates[0])
    return keys or None


def principal_export_endpoint(settings: ApiSettings, store: Store) -> Any:
    async def export_principal_calls(request: Request) -> Response:
        try:
            kind_name = str(request.path_params["kind"]).upper()
            if kind_name not in PrincipalKind.__members__:
                raise BadRequest(f"`kind` must be one of {', '.join(PrincipalKind.__members__)}")
            identifier = _bounded(request.path_params["identifier"], "identifier")
            fmt, start, end = _scope(request.query_params)
        except BadRequest as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        kind = PrincipalKind[kind_name]
        keys = await run_in_threadpool(principal_keys, store, kind, identifier, _accounts(request))
        if keys is None:
            return JSONResponse({"error": "no such principal"}, status_code=404)
        name = identifier.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        return _stream(settings, store, request, keys, name, fmt, start, end)

    return export_principal_calls
