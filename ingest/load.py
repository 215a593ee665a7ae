"""Loading one object into ClickHouse, idempotently, and recording the outcome in the ledger.

Each chunk of record texts is one INSERT into cloudtrail_landing whose deduplication token is the
chunk's content hash (plus the retention in force), with deduplication in dependent views on: a
retried load, a redelivered message or a byte-identical duplicate file adds nothing. Record-level
duplicates (the same record in an organisation and an account trail) are absorbed by the tables.

For every object the ledger holds records read = loaded + bad + expired (+ items of other kinds
skipped): counts come from ClickHouse's own classification (cloudtrail_load_counts), not assumed.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.errors import BadInput
from ingest import cloudtrail
from ingest.cloudtrail import BadItem, Chunk, Shape, TruncatedRecords
from ingest.sources import NOT_LOADED, ByteStream, CorruptObject, LogType, ObjectRef

log = logging.getLogger(__name__)

LOADED = "loaded"
PARTIAL = "partial"
FAILED = "failed"
SKIPPED = "skipped"
DUPLICATE = "duplicate"
FINAL_STATUSES = (LOADED, PARTIAL, SKIPPED, DUPLICATE, FAILED)

_LEDGER_COLUMNS = (
    "object_id", "job_id", "source", "uri", "log_type", "account_id", "region", "size", "checksum",
    "retention_days", "status", "records_read", "records_loaded", "records_bad", "records_expired",
    "first_event", "last_event", "message", "loaded_at",
)  # fmt: skip


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading one object, as recorded in the ledger."""

    object_id: str
    uri: str
    log_type: str
    status: str
    records_read: int = 0
    records_loaded: int = 0
    records_bad: int = 0
    records_expired: int = 0
    skipped_items: int = 0
    bytes_read: int = 0
    first_event: datetime | None = None
    last_event: datetime | None = None
    message: str = ""


@dataclass
class _Progress:
    python_bad: int = 0
    corrupt: str = ""
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Loader:
    """Loads objects into one store with one retention; safe to use from several threads."""

    def __init__(self, store: Store, retention_days: int, chunk_bytes: int = cloudtrail.CHUNK_BYTES) -> None:
        self.store = store
        self.retention_days = retention_days
        self.chunk_bytes = chunk_bytes

    # -- ledger -------------------------------------------------------------------------------

    def done(self, refs: Iterable[ObjectRef]) -> set[str]:
        """Object ids among refs already loaded with their current size, under this retention or
        with nothing expired (raising the retention makes objects with expired records due again)."""
        by_id = {ref.object_id: ref for ref in refs}
        if not by_id:
            return set()
        rows = self.store.rows(
            f"""SELECT object_id, size, retention_days, records_expired FROM {tables.INGEST_OBJECTS} FINAL
            WHERE object_id IN {{ids:Array(String)}} AND status IN {{final:Array(String)}}""",
            {"ids": list(by_id), "final": list(FINAL_STATUSES)},
        )
        return {
            str(object_id)
            for object_id, size, retention, expired in rows
            if by_id[str(object_id)].size == size and (expired == 0 or self._covers(int(retention)))
        }

    def _covers(self, retention: int) -> bool:
        # Reloading is due only when the current retention keeps more than the one that loaded it.
        return self.retention_days != 0 and (retention == 0 or self.retention_days <= retention)

    def record(self, ref: ObjectRef, job_id: str, result: LoadResult, checksum: str = "") -> None:
        row = [
            result.object_id, job_id, ref.source, ref.uri, ref.log_type.value, ref.account_id, ref.region,
            ref.size, checksum, self.retention_days, result.status, result.records_read, result.records_loaded,
            result.records_bad, result.records_expired, result.first_event, result.last_event, result.message,
            datetime.now(UTC),
        ]  # fmt: skip
        self.store.insert(tables.INGEST_OBJECTS, [row], _LEDGER_COLUMNS)

    # -- loading ------------------------------------------------------------------------------

    def load(self, ref: ObjectRef, job_id: str = "") -> LoadResult:
        """Load one object (never raises for bad content: the result says what happened)."""
        if ref.log_type in NOT_LOADED:
            result = LoadResult(ref.object_id, ref.uri, ref.log_type, SKIPPED, message=f"{ref.log_type} not loaded")
            self.record(ref, job_id, result)
            return result
        stream = ByteStream(Path(ref.uri))
        progress = _Progress()
        load_id = f"{ref.object_id}:{ref.size}:{self.retention_days}"
        try:
            shape = self._load_stream(ref, load_id, stream, progress)
        except OSError as exc:
            result = LoadResult(ref.object_id, ref.uri, ref.log_type, FAILED, message=f"cannot read: {exc}")
            self.record(ref, job_id, result)
            raise
        result = self._result(ref, load_id, shape, stream, progress)
        self.record(ref, job_id, result, stream.sha256.hexdigest())
        return result

    def _load_stream(self, ref: ObjectRef, load_id: str, stream: ByteStream, progress: _Progress) -> Shape:
        pieces = _until_corrupt(stream.pieces(), progress)
        first = next(pieces, b"")
        shape = cloudtrail.sniff(first)
        pieces = itertools.chain([first], pieces)
        if shape is Shape.RECORDS_FILE:
            self._load_records_file(ref, load_id, pieces, progress)
        elif shape is Shape.JSON:
            self._load_tolerant(ref, load_id, b"".join(pieces), 0, progress)
        elif shape is Shape.NOT_JSON:
            progress.python_bad += 1
            self._insert_rejects(load_id, 0, [BadItem(0, "not JSON: not a CloudTrail log file", _head(first))])
        elif shape is Shape.DIGEST:
            progress.skipped["cloudtrail-digest"] = 1
        if progress.corrupt:
            progress.python_bad += 1
            reason = f"{progress.corrupt} after {stream.bytes_read} bytes"
            self._insert_rejects(load_id, 0, [BadItem(0, reason, "")])
        return shape

    def _load_records_file(self, ref: ObjectRef, load_id: str, pieces: Iterator[bytes], progress: _Progress) -> None:
        index = 0
        try:
            for index, data in enumerate(cloudtrail.records_file_chunks(pieces, self.chunk_bytes)):
                self._insert_chunk(ref, load_id, Chunk(index, data), progress)
            return
        except TruncatedRecords as truncated:
            tail = truncated.args[0]
            progress.problems.append("file ends inside its Records array")
            index += 1
        self._load_tolerant(ref, load_id, tail, index, progress)

    def _load_tolerant(self, ref: ObjectRef, load_id: str, data: bytes, first_index: int, progress: _Progress) -> None:
        for chunk in cloudtrail.tolerant_chunks(data, first_index, self.chunk_bytes):
            self._insert_chunk(ref, load_id, chunk, progress, tolerant=True)

    def _insert_chunk(self, ref: ObjectRef, load_id: str, chunk: Chunk, progress: _Progress, tolerant: bool = False) -> None:
        for item in chunk.skipped:
            progress.skipped[item.kind] = progress.skipped.get(item.kind, 0) + 1
        if chunk.bad:
            progress.python_bad += len(chunk.bad)
            self._insert_rejects(load_id, chunk.index, chunk.bad)
        if not chunk.data:
            return
        digest = hashlib.sha256(chunk.data).hexdigest()
        settings = {
            "log_comment": orjson.dumps({"object_id": load_id, "chunk": chunk.index, "account": ref.account_id}).decode(),
            "insert_deduplication_token": f"cloudtrail:{digest}:{self.retention_days}",
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            # Parallel parsing splits input at ~10 MiB and cannot start a segment at a comma.
            "input_format_parallel_parsing": 0,
        }
        try:
            self.store.raw_insert(tables.CLOUDTRAIL_LANDING, ["raw"], chunk.data, "JSONAsString", settings)
        except BadInput:
            if tolerant:
                raise
            # ClickHouse could not split this chunk into records: redo it record by record.
            log.info("chunk %s of %s needs the tolerant parser", chunk.index, ref.uri)
            for redo in cloudtrail.tolerant_chunks(chunk.data, chunk.index, self.chunk_bytes):
                self._insert_chunk(ref, load_id, redo, progress, tolerant=True)

    def _insert_rejects(self, load_id: str, chunk_index: int, bad: Iterable[BadItem]) -> None:
        rows = [[load_id, chunk_index, item.position, item.reason[:200], item.excerpt] for item in bad]
        token = hashlib.sha256(orjson.dumps(rows)).hexdigest()
        self.store.insert(
            tables.INGEST_REJECTS,
            rows,
            ["object_id", "chunk", "position", "reason", "excerpt"],
            {"insert_deduplication_token": f"rejects:{token}"},
        )

    def _result(self, ref: ObjectRef, load_id: str, shape: Shape, stream: ByteStream, progress: _Progress) -> LoadResult:
        cutoff = date(1970, 1, 2) if self.retention_days == 0 else _today() - timedelta(days=self.retention_days)
        counts = self.store.rows(
            f"""SELECT sum(records_read), sum(records_valid), sumIf(records_valid, day < {{cutoff:Date}}),
                minIf(first_event, day > '1970-01-01'), maxIf(last_event, day > '1970-01-01')
            FROM {tables.CLOUDTRAIL_LOAD_COUNTS} WHERE object_id = {{load_id:String}}""",
            {"load_id": load_id, "cutoff": cutoff},
        )
        read_ch, valid, expired, first, last = counts[0] if counts else (0, 0, 0, None, None)
        read_ch, valid, expired = int(read_ch or 0), int(valid or 0), int(expired or 0)
        bad = int(
            self.store.scalar(
                f"SELECT count() FROM {tables.INGEST_REJECTS} WHERE object_id = {{load_id:String}}", {"load_id": load_id}
            )
            or 0
        )
        if bad != (read_ch - valid) + progress.python_bad:
            progress.problems.append(f"reconciliation: {read_ch - valid + progress.python_bad} rejects expected, {bad} recorded")
        skipped = sum(progress.skipped.values())
        status = self._status(ref, shape, stream, progress, read_ch, valid, bad)
        message = "; ".join(
            progress.problems
            + [f"{count} {kind} skipped" for kind, count in sorted(progress.skipped.items())]
            + ([f"{expired} records older than the {self.retention_days}-day retention"] if expired else [])
        )
        return LoadResult(
            ref.object_id, ref.uri, ref.log_type, status,
            records_read=valid + bad + skipped, records_loaded=valid - expired, records_bad=bad,
            records_expired=expired, skipped_items=skipped, bytes_read=stream.bytes_read,
            first_event=_utc(first) if valid else None, last_event=_utc(last) if valid else None, message=message,
        )  # fmt: skip

    def _status(
        self, ref: ObjectRef, shape: Shape, stream: ByteStream, progress: _Progress, read: int, valid: int, bad: int
    ) -> str:
        if shape is Shape.DIGEST:
            return SKIPPED
        if shape is Shape.NOT_JSON or (valid == 0 and bad > 0) or (shape is Shape.EMPTY and progress.corrupt):
            return FAILED
        if read == 0 and bad == 0 and stream.bytes_read > 0 and shape is Shape.RECORDS_FILE:
            if self._same_content_loaded(ref, stream.sha256.hexdigest()):
                progress.problems.append("same content as an object already loaded")
                return DUPLICATE
        return PARTIAL if bad or progress.problems else LOADED

    def _same_content_loaded(self, ref: ObjectRef, checksum: str) -> bool:
        found = self.store.scalar(
            f"""SELECT count() FROM {tables.INGEST_OBJECTS} FINAL
            WHERE checksum = {{checksum:String}} AND object_id != {{object_id:String}}""",
            {"checksum": checksum, "object_id": ref.object_id},
        )
        return bool(found)


def _until_corrupt(pieces: Iterator[bytes], progress: _Progress) -> Iterator[bytes]:
    """Yield pieces until the stream breaks; a broken stream ends the object where it broke."""
    try:
        yield from pieces
    except CorruptObject as exc:
        progress.corrupt = str(exc)
        progress.problems.append(str(exc))


def _head(data: bytes) -> str:
    return data[:200].decode("utf-8", errors="replace")


def _today() -> date:
    return datetime.now(UTC).date()


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def load_paths_directly(loader: Loader, refs: Iterable[ObjectRef], job_id: str = "") -> list[LoadResult]:
    """Load refs one after another in this thread (tests, benchmarks, the tolerant CLI fallback)."""
    return [loader.load(ref, job_id) for ref in refs]


LOG_TYPES_LOADED = tuple(t for t in LogType if t not in NOT_LOADED)
