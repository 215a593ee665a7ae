"""Loading VPC flow log objects: the header read here, the lines split and typed by ClickHouse.

An object's text goes to flowlog_landing as LineAsString in chunks of whole lines (bounded
memory, one INSERT each, with a deterministic deduplication token and deduplication in dependent
views on: a retried chunk adds nothing). flowlog_parsed_mv splits and checks every line once and
routes it to flowlog_records and the rollups, or to ingest_rejects with its line number. The
ledger row (written by ingest.load.Loader) holds records read = loaded + bad + expired, with the
counts ClickHouse itself made (flowlog_load_counts), checked against the lines sent.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.errors import BadInput
from ingest import flowlogs
from ingest.flowlogs import BadHeader, FlowFormat, LineChunk, TransitGatewayLog
from ingest.load import FAILED, LOADED, PARTIAL, SKIPPED, Loader, LoadResult, register_loader
from ingest.sources import CorruptObject, LogType, ObjectRef, object_stream

log = logging.getLogger(__name__)


def load_flow_object(loader: Loader, ref: ObjectRef, load_id: str) -> LoadResult:
    """Load one flow log object; bad content never raises (the result says what happened)."""
    stream = object_stream(ref)
    pieces = stream.pieces()
    name = flowlogs.file_name(ref.uri)
    problems: list[str] = []
    sent = python_bad = 0
    fmt: FlowFormat | None = None
    try:
        first, rest = flowlogs.split_first_line(pieces)
        fmt = flowlogs.read_format(first)
        if fmt.has_header:
            chunks = flowlogs.line_chunks(rest, pieces, 2, loader.chunk_bytes)
        else:
            chunks = flowlogs.line_chunks(first + b"\n" + rest, pieces, 1, loader.chunk_bytes)
        for chunk in chunks:
            _insert(loader, ref, load_id, fmt, name, chunk)
            sent += chunk.lines
    except TransitGatewayLog as exc:
        return LoadResult(ref.object_id, ref.uri, ref.log_type, SKIPPED, message=str(exc))
    except BadHeader as exc:
        _reject(loader, load_id, 0, f"bad header: {exc}"[:200], 1)
        result = _result(loader, ref, load_id, sent, 1, [f"bad header: {exc}"], stream.bytes_read)
        return replace(result, status=FAILED)
    except CorruptObject as exc:
        reason = f"{exc} after {stream.bytes_read} stored bytes"
        problems.append(reason)
        _reject(loader, load_id, 0, reason[:200])
        python_bad += 1
    if fmt is not None and fmt.unknown_fields:
        problems.append(f"fields unknown to this version kept by name: {', '.join(fmt.unknown_fields)}")
    return _result(loader, ref, load_id, sent, python_bad, problems, stream.bytes_read)


def _insert(
    loader: Loader, ref: ObjectRef, load_id: str, fmt: FlowFormat, name: flowlogs.FileName, chunk: LineChunk
) -> None:
    comment = {
        "object_id": load_id,
        "chunk": chunk.index,
        "offset": chunk.first_line - 1,
        "account": ref.account_id,
        "region": ref.region,
        "flow_log_id": name.flow_log_id,
        **fmt.positions(),
        "fallback_time": int(name.delivered_at.timestamp()) if name.delivered_at else 0,
    }
    settings = {
        "log_comment": orjson.dumps(comment).decode(),
        # The chunk's position and a checksum of its bytes: a retry of the same chunk is skipped.
        "insert_deduplication_token": f"flowlogs:{load_id}:{chunk.index}:{zlib.crc32(chunk.data):08x}",
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        # Line numbers come from the row's place in its block: one chunk must stay one block.
        "input_format_parallel_parsing": 0,
        "max_insert_block_size": 10_000_000,
        # Rows are merged (replaced, aggregated) at merge time and read with FINAL or sums: merging
        # each inserted block first costs a quarter of the CPU (measured) for nothing.
        "optimize_on_insert": 0,
        "throw_on_max_partitions_per_insert_block": 0,
    }
    try:
        loader.store.raw_insert(tables.FLOWLOG_LANDING, ["line"], chunk.data, "LineAsString", settings)
    except BadInput as exc:
        # LineAsString accepts any bytes; a refusal here is not about one line. Say so, keep going.
        _reject(loader, load_id, chunk.index, f"chunk refused by ClickHouse: {exc}"[:200], chunk.first_line)


def _reject(loader: Loader, load_id: str, chunk: int, reason: str, position: int = 0) -> None:
    token = zlib.crc32(f"{load_id}:{chunk}:{position}:{reason}".encode())
    loader.store.insert(
        tables.INGEST_REJECTS,
        [[load_id, chunk, position, reason, ""]],
        ["object_id", "chunk", "position", "reason", "excerpt"],
        {"insert_deduplication_token": f"flowrejects:{token:08x}"},
    )


def _result(
    loader: Loader, ref: ObjectRef, load_id: str, sent: int, python_bad: int, problems: list[str],
    bytes_read: int,
) -> LoadResult:  # fmt: skip
    counts = _counts(loader, load_id)
    read, valid, expired = counts["read"], counts["valid"], counts["expired"]
    bad = counts["rejected"]
    engine_bad = read - valid
    # ClickHouse counted what it read and classified; both must match what was sent and rejected.
    if read != sent:
        problems.append(f"reconciliation: {sent} lines sent, {read} counted for this object")
    if bad != engine_bad + python_bad:
        problems.append(f"reconciliation: {engine_bad + python_bad} rejects expected, {bad} recorded")
    status = FAILED if valid == 0 and bad > 0 else PARTIAL if bad or problems else LOADED
    notes = list(problems)
    if engine_bad:
        notes.append(f"{engine_bad} bad lines (ingest_rejects has their line numbers and reasons)")
    if expired:
        notes.append(f"{expired} records older than the {loader.retention_days}-day retention")
    if status == LOADED and read == 0:
        notes.append("no records in this object")
    return LoadResult(
        ref.object_id, ref.uri, ref.log_type, status,
        records_read=valid + bad, records_loaded=valid - expired, records_bad=bad,
        records_expired=expired, bytes_read=bytes_read,
        first_event=counts["first"] if valid else None, last_event=counts["last"] if valid else None,
        message="; ".join(notes),
    )  # fmt: skip


def _counts(loader: Loader, load_id: str) -> dict[str, Any]:
    retention = loader.retention_days
    cutoff = date(1970, 1, 2) if retention == 0 else datetime.now(UTC).date() - timedelta(days=retention)
    row = loader.store.rows(
        f"""SELECT sum(records_read), sum(records_valid), sumIf(records_valid, day < {{cutoff:Date}}),
            minIf(first_event, records_valid > 0), maxIf(last_event, records_valid > 0)
        FROM {tables.FLOWLOG_LOAD_COUNTS} WHERE object_id = {{id:String}}""",
        {"id": load_id, "cutoff": cutoff},
    )[0]
    rejected = loader.store.scalar(
        f"SELECT count() FROM {tables.INGEST_REJECTS} WHERE object_id = {{id:String}}", {"id": load_id}
    )
    return {
        "read": int(row[0] or 0),
        "valid": int(row[1] or 0),
        "expired": int(row[2] or 0),
        "first": _utc(row[3]),
        "last": _utc(row[4]),
        "rejected": int(rejected or 0),
    }


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


register_loader(LogType.FLOWLOGS, load_flow_object)
