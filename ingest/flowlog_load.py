"""Loading VPC flow log objects: the header read here, the lines split and typed by ClickHouse.

An object's text goes to flowlog_landing as LineAsString in chunks of whole lines (bounded
memory, one INSERT each, with a deterministic deduplication token and deduplication in dependent
views on: a retried chunk adds nothing). Objects read whole (up to a quarter of a chunk stored) of
one format go together in INSERTs of up to a chunk of text (each INSERT through the views has a
fixed cost and leaves parts to merge; measured): log_comment lists the members and the row where
each begins, so every line keeps its object and line number.
flowlog_parsed_mv splits and checks every line once and routes it to flowlog_records and the
rollups, or to ingest_rejects with its line number. The ledger row (written by
ingest.load.Loader) holds records read = loaded + bad + expired, with the counts ClickHouse
itself made (flowlog_load_counts), checked against the lines sent.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.errors import BadInput
from ingest import flowlogs
from ingest.flowlogs import BadHeader, FlowFormat, LineChunk, TransitGatewayLog
from ingest.load import (
    FAILED,
    LOADED,
    PARTIAL,
    SKIPPED,
    Loader,
    LoadResult,
    register_batch_loader,
    register_loader,
)
from ingest.sources import ByteStream, CorruptObject, LogType, ObjectRef, object_stream

log = logging.getLogger(__name__)


BATCH_MEMBERS = 200


@dataclass
class _Member:
    """An object read whole, waiting for its batch: its lines end with a line break. The text
    is let go once sent (`sent` keeps the number of lines)."""

    index: int
    ref: ObjectRef
    load_id: str
    name: flowlogs.FileName
    fmt: FlowFormat
    chunk: LineChunk | None
    bytes_read: int
    problems: list[str] = field(default_factory=list)
    sent: int = 0


class _Batches:
    """Members waiting, grouped by format; all the text held stays within one chunk."""

    def __init__(self, loader: Loader) -> None:
        self.loader = loader
        self.groups: dict[bytes, list[_Member]] = {}

    @staticmethod
    def _size(group: Sequence[_Member]) -> int:
        return sum(len(m.chunk.data) for m in group if m.chunk is not None)

    def add(self, member: _Member) -> None:
        if member.chunk is None:
            return
        key = orjson.dumps(member.fmt.positions())
        group = self.groups.setdefault(key, [])
        limit, size = self.loader.flow_chunk_bytes, len(member.chunk.data)
        if group and (len(group) >= BATCH_MEMBERS or self._size(group) + size > limit):
            self.send(key)
        # Groups of other formats are sent (largest first) while the text held would pass a chunk.
        while (held := sum(self._size(g) for g in self.groups.values())) and held + size > limit:
            self.send(max(self.groups, key=lambda k: self._size(self.groups[k])))
        self.groups.setdefault(key, []).append(member)

    def send(self, key: bytes) -> None:
        group = self.groups.pop(key, [])
        if group:
            _insert_members(self.loader, group)
        for member in group:
            if member.chunk is not None:
                member.sent = member.chunk.lines
                member.chunk = replace(member.chunk, data=b"")

    def send_all(self) -> None:
        for key in list(self.groups):
            self.send(key)


def load_flow_objects(loader: Loader, items: Sequence[tuple[ObjectRef, str]]) -> list[LoadResult]:
    """Load flow log objects, those read whole together by format; results in the order of items."""
    results: dict[int, LoadResult] = {}
    batches = _Batches(loader)
    waiting: list[_Member] = []
    for index, (ref, load_id) in enumerate(items):
        if ref.size > loader.flow_whole_bytes:
            results[index] = load_flow_object(loader, ref, load_id)
            continue
        member = _read_whole(loader, index, ref, load_id)
        if isinstance(member, LoadResult):
            results[index] = member
            continue
        waiting.append(member)
        batches.add(member)
    batches.send_all()
    counts = _counts_many(loader, [m.load_id for m in waiting])
    for member in waiting:
        results[member.index] = _result(
            loader, member.ref, member.load_id, member.sent, 0, list(member.problems), member.bytes_read,
            counts[member.load_id],
        )  # fmt: skip
    return [results[i] for i in range(len(items))]


def _read_whole(loader: Loader, index: int, ref: ObjectRef, load_id: str) -> _Member | LoadResult:
    """An object read whole, or its result when it is not loaded with others: a skipped, failed
    or corrupt one takes the one-object path, which says what happened; one with more text than a
    chunk (a small gzip can hold a lot) is sent on its own, streaming on from what was read."""
    stream = object_stream(ref)
    pieces = stream.pieces()
    try:
        fmt, chunks = _chunks(loader, pieces)
        chunk = next(chunks, None)
        second = next(chunks, None)
    except (TransitGatewayLog, BadHeader, CorruptObject):
        return load_flow_object(loader, ref, load_id)
    name = flowlogs.file_name(ref.uri)
    if chunk is not None and second is not None:
        return _stream(loader, ref, load_id, stream, name, fmt, itertools.chain([chunk, second], chunks))
    if chunk is not None and not chunk.data.endswith(b"\n"):
        chunk = replace(chunk, data=chunk.data + b"\n")
    member = _Member(index, ref, load_id, name, fmt, chunk, stream.bytes_read)
    if fmt.unknown_fields:
        member.problems.append(_unknown(fmt))
    return member


def _chunks(loader: Loader, pieces: Iterator[bytes]) -> tuple[FlowFormat, Iterator[LineChunk]]:
    """The object's format (from its header line) and its lines in chunks."""
    first, rest = flowlogs.split_first_line(pieces)
    fmt = flowlogs.read_format(first)
    text, line = (rest, 2) if fmt.has_header else (first + b"\n" + rest, 1)
    return fmt, flowlogs.line_chunks(text, pieces, line, loader.flow_chunk_bytes)


def _insert_members(loader: Loader, members: Sequence[_Member]) -> None:
    """One INSERT for objects of one format. A member whose lines a cut-short earlier load
    already counted is left out (its rows are in; its counts say so), so that a retry grouped
    differently never adds a member's flows to the rollups twice."""
    counted = _counted(loader, [m.load_id for m in members])
    todo = [m for m in members if m.load_id not in counted and m.chunk is not None]
    if not todo:
        return
    chunks = [m.chunk for m in todo if m.chunk is not None]
    comment = _comment(
        todo[0].fmt, [(m.load_id, m.ref, m.name, c) for m, c in zip(todo, chunks, strict=True)]
    )
    data = b"".join(c.data for c in chunks)
    digest = hashlib.sha256(
        b"".join(f"{m.load_id}:{zlib.crc32(c.data):08x};".encode() for m, c in zip(todo, chunks, strict=True))
    )
    try:
        _send(loader, comment, data, f"flowlogs:batch:{digest.hexdigest()[:32]}")
    except BadInput as exc:
        for member, chunk in zip(todo, chunks, strict=True):
            _reject(
                loader,
                member.load_id,
                chunk.index,
                f"chunk refused by ClickHouse: {exc}"[:200],
                chunk.first_line,
            )


def load_flow_object(loader: Loader, ref: ObjectRef, load_id: str) -> LoadResult:
    """Load one flow log object on its own, streamed in bounded chunks; bad content never raises
    (the result says what happened)."""
    stream = object_stream(ref)
    name = flowlogs.file_name(ref.uri)
    try:
        fmt, chunks = _chunks(loader, stream.pieces())
    except TransitGatewayLog as exc:
        return LoadResult(ref.object_id, ref.uri, ref.log_type, SKIPPED, message=str(exc))
    except BadHeader as exc:
        _reject(loader, load_id, 0, f"bad header: {exc}"[:200], 1)
        result = _result(loader, ref, load_id, 0, 1, [f"bad header: {exc}"], stream.bytes_read)
        return replace(result, status=FAILED)
    except CorruptObject as exc:
        reason = _corrupt(loader, load_id, stream, exc)
        return _result(loader, ref, load_id, 0, 1, [reason], stream.bytes_read)
    return _stream(loader, ref, load_id, stream, name, fmt, chunks)


def _stream(
    loader: Loader, ref: ObjectRef, load_id: str, stream: ByteStream, name: flowlogs.FileName,
    fmt: FlowFormat, chunks: Iterator[LineChunk],
) -> LoadResult:  # fmt: skip
    """Send an object's chunks, one INSERT each, and say what happened."""
    problems: list[str] = []
    sent = python_bad = 0
    try:
        for chunk in chunks:
            _insert(loader, ref, load_id, fmt, name, chunk)
            sent += chunk.lines
    except CorruptObject as exc:
        problems.append(_corrupt(loader, load_id, stream, exc))
        python_bad += 1
    if fmt.unknown_fields:
        problems.append(_unknown(fmt))
    return _result(loader, ref, load_id, sent, python_bad, problems, stream.bytes_read)


def _corrupt(loader: Loader, load_id: str, stream: ByteStream, exc: CorruptObject) -> str:
    """Record a corrupt object (the lines before the damage are in) and say where it broke."""
    reason = f"{exc} after {stream.bytes_read} stored bytes"
    _reject(loader, load_id, 0, reason[:200])
    return reason


def _unknown(fmt: FlowFormat) -> str:
    return f"fields unknown to this version kept by name: {', '.join(fmt.unknown_fields)}"


def _comment(
    fmt: FlowFormat, members: Sequence[tuple[str, ObjectRef, flowlogs.FileName, LineChunk]]
) -> dict[str, Any]:
    """What flowlog_parsed_mv reads from log_comment: the format, and each member's load id, chunk,
    first row in the INSERT, first line number, account, region, flow log and delivery time."""
    load_ids, refs, names, chunks = zip(*members, strict=True)
    return {
        "objects": list(load_ids),
        "chunks": [chunk.index for chunk in chunks],
        "starts": list(itertools.accumulate((chunk.lines for chunk in chunks[:-1]), initial=0)),
        "offsets": [chunk.first_line - 1 for chunk in chunks],
        "accounts": [ref.account_id for ref in refs],
        "regions": [ref.region for ref in refs],
        "flow_log_ids": [name.flow_log_id for name in names],
        "fallback_times": [int(name.delivered_at.timestamp()) if name.delivered_at else 0 for name in names],
        **fmt.positions(),
    }


def _insert(
    loader: Loader, ref: ObjectRef, load_id: str, fmt: FlowFormat, name: flowlogs.FileName, chunk: LineChunk
) -> None:
    comment = _comment(fmt, [(load_id, ref, name, chunk)])
    # The chunk's position and a checksum of its bytes: a retry of the same chunk is skipped.
    token = f"flowlogs:{load_id}:{chunk.index}:{zlib.crc32(chunk.data):08x}"
    try:
        _send(loader, comment, chunk.data, token)
    except BadInput as exc:
        # LineAsString accepts any bytes; a refusal here is not about one line. Say so, keep going.
        _reject(loader, load_id, chunk.index, f"chunk refused by ClickHouse: {exc}"[:200], chunk.first_line)


def _send(loader: Loader, comment: dict[str, Any], data: bytes, token: str) -> None:
    settings = {
        "log_comment": orjson.dumps(comment).decode(),
        "insert_deduplication_token": token,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        # Line numbers and members come from the row's place in its block: one INSERT must stay one
        # block. Without these, ClickHouse 26 cuts its input at about a million rows (a block is
        # emitted once min_insert_block_size_rows is reached), and the rows after the cut were
        # numbered from zero again. Lines are never more than bytes: neither row bound is reached;
        # a byte bound of 0 takes no part.
        "input_format_parallel_parsing": 0,
        "max_insert_block_size": len(data) + 1,
        "min_insert_block_size_rows": len(data) + 1,
        "min_insert_block_size_bytes": 0,
        # Rows are merged (replaced, aggregated) at merge time and read with FINAL or sums: merging
        # each inserted block first costs a quarter of the CPU (measured) for nothing.
        "optimize_on_insert": 0,
        "throw_on_max_partitions_per_insert_block": 0,
    }
    loader.store.raw_insert(tables.FLOWLOG_LANDING, ["line"], data, "LineAsString", settings)


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
    bytes_read: int, counts: dict[str, Any] | None = None,
) -> LoadResult:  # fmt: skip
    counts = counts if counts is not None else _counts_many(loader, [load_id])[load_id]
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


def _counts_many(loader: Loader, load_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What ClickHouse counted for each load id (two queries, whatever the number of objects)."""
    retention = loader.retention_days
    cutoff = date(1970, 1, 2) if retention == 0 else datetime.now(UTC).date() - timedelta(days=retention)
    found: dict[str, dict[str, Any]] = {
        load_id: {"read": 0, "valid": 0, "expired": 0, "first": None, "last": None, "rejected": 0}
        for load_id in load_ids
    }
    if not found:
        return found
    ids = {"ids": list(found), "cutoff": cutoff}
    for object_id, read, valid, expired, first, last in loader.store.rows(
        f"""SELECT object_id, sum(records_read), sum(records_valid),
            sumIf(records_valid, day < {{cutoff:Date}}),
            minIf(first_event, records_valid > 0), maxIf(last_event, records_valid > 0)
        FROM {tables.FLOWLOG_LOAD_COUNTS} WHERE object_id IN {{ids:Array(String)}} GROUP BY object_id""",
        ids,
    ):
        found[str(object_id)].update(
            read=int(read or 0),
            valid=int(valid or 0),
            expired=int(expired or 0),
            first=_utc(first),
            last=_utc(last),
        )
    for object_id, rejected in loader.store.rows(
        f"SELECT object_id, count() FROM {tables.INGEST_REJECTS} WHERE object_id IN {{ids:Array(String)}} "
        "GROUP BY object_id",
        ids,
    ):
        found[str(object_id)]["rejected"] = int(rejected or 0)
    return found


def _counted(loader: Loader, load_ids: Sequence[str]) -> set[str]:
    """Load ids whose lines ClickHouse has already counted (an earlier load of them got in)."""
    rows = loader.store.rows(
        f"SELECT DISTINCT object_id FROM {tables.FLOWLOG_LOAD_COUNTS} "
        "WHERE object_id IN {ids:Array(String)}",
        {"ids": list(load_ids)},
    )
    return {str(row[0]) for row in rows}


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


register_loader(LogType.FLOWLOGS, load_flow_object)
register_batch_loader(LogType.FLOWLOGS, load_flow_objects)
