"""Loading objects into ClickHouse, idempotently, and recording each outcome in the ledger.

Record texts go to cloudtrail_landing as JSONAsString; the views parse and route them. Small
trail files are loaded in batches (one INSERT for many objects: few parts, few round trips);
large ones in bounded chunks. log_comment tells the views which rows belong to which object.
Every INSERT has a deduplication token made of the objects' load ids and content hashes, with
deduplication in dependent views on: a retried load or a redelivered message adds nothing.
Record-level duplicates (the same record in an organisation and an account trail) are absorbed by
the tables. A byte-identical copy of an object already loaded is recognised by its checksum and
not loaded again.

For every object the ledger holds records read = loaded + bad + expired + skipped, with counts
from ClickHouse's own classification (cloudtrail_load_counts), not assumed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.errors import BadInput, StorageError
from ingest import cloudtrail, directory, flowlogs, geo, guardduty
from ingest.cloudtrail import BadItem, Chunk, NoBoundary, RecordsFileChunker, Shape, TruncatedRecords
from ingest.sources import NOT_LOADED, CorruptObject, LogType, ObjectRef, object_checksum, object_stream

log = logging.getLogger(__name__)

LOADED = "loaded"
PARTIAL = "partial"
FAILED = "failed"
SKIPPED = "skipped"
DUPLICATE = "duplicate"
FINAL_STATUSES = (LOADED, PARTIAL, SKIPPED, DUPLICATE, FAILED)
# Objects at most this big (stored bytes) are read whole and loaded together in batches.
SMALL_OBJECT_BYTES = 4 * 1024 * 1024
BATCH_OBJECTS = 200
MAX_INSERT_BYTES = 128 * 1024 * 1024

_LEDGER_COLUMNS = (
    "object_id", "load_id", "job_id", "source", "uri", "log_type", "account_id", "region", "size", "checksum",
    "retention_days", "status", "records_read", "records_loaded", "records_bad", "records_expired",
    "records_skipped", "first_event", "last_event", "message", "loaded_at",
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


# Log types other than CloudTrail are loaded by their own modules (flow logs, findings), which
# register here: the function loads one object (its own tables, rejects and counts) and returns
# its result; duplicates, failures and the ledger row are handled by Loader like any object.
ObjectLoader = Callable[["Loader", ObjectRef, str], LoadResult]  # (loader, ref, load_id)
OBJECT_LOADERS: dict[LogType, ObjectLoader] = {}


def register_loader(log_type: LogType, load: ObjectLoader) -> None:
    OBJECT_LOADERS[log_type] = load


# A log type whose small objects are cheaper loaded together (flow logs: each INSERT through their
# views has a fixed cost) registers a batch loader too: it takes every object of that type in a
# load_many call, as (ref, load id) pairs, and returns their results in the same order.
BatchLoader = Callable[["Loader", Sequence[tuple[ObjectRef, str]]], list[LoadResult]]
BATCH_LOADERS: dict[LogType, BatchLoader] = {}


def register_batch_loader(log_type: LogType, load: BatchLoader) -> None:
    BATCH_LOADERS[log_type] = load


# Operator exports of other slices (an EC2 inventory) are JSON files outside the log layouts, told
# apart by their first bytes: sniff(head) is true for the exports `load` reads.
CONTENT_LOADERS: list[tuple[Callable[[bytes], object], ObjectLoader]] = []


def register_content_loader(sniff: Callable[[bytes], object], load: ObjectLoader) -> None:
    CONTENT_LOADERS.append((sniff, load))


def content_loader(ref: ObjectRef) -> ObjectLoader | None:
    """The loader of an operator export, for a JSON file that is not a delivered log file."""
    name = ref.uri.rsplit("/", 1)[-1]
    if not CONTENT_LOADERS or "_CloudTrail" in name or ref.log_type is not LogType.CLOUDTRAIL:
        return None
    pieces = object_stream(ref).pieces()
    try:
        head = next(pieces, b"")[:4096]
    except CorruptObject:
        return None
    finally:
        if isinstance(pieces, Generator):
            pieces.close()
    return next((load for sniff, load in CONTENT_LOADERS if sniff(head)), None)


@dataclass
class _Progress:
    """What Python itself saw while loading one object."""

    ref: ObjectRef
    load_id: str
    shape: Shape = Shape.EMPTY
    checksum: str = ""
    bytes_read: int = 0
    python_bad: int = 0
    # Records this load sent to ClickHouse (checked against what the views counted for it).
    sent: int = 0
    sent_unknown: bool = False
    corrupt: str = ""
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    duplicate_of: str = ""
    # Entries of an operator export (accounts, Identity Center users) read and stored.
    export_read: int = 0
    export_loaded: int = 0
    # The result of the loader of another log type that the content turned out to be.
    delegated: LoadResult | None = None


@dataclass(frozen=True)
class _Counts:
    read: int = 0
    valid: int = 0
    expired: int = 0
    rejected: int = 0
    first: datetime | None = None
    last: datetime | None = None


@dataclass
class _Batch:
    """Whole small trail files waiting to go to ClickHouse in one INSERT."""

    members: list[tuple[_Progress, bytes, int, tuple[int, ...]]] = field(default_factory=list)
    size: int = 0

    def add(self, progress: _Progress, data: bytes, count: int, positions: tuple[int, ...] = ()) -> None:
        """Add an object's records; `count` must be exact: it decides which rows are whose."""
        self.members.append((progress, data, count, positions))
        self.size += len(data)


class Loader:
    """Loads objects into one store with one retention; safe to use from several threads."""

    def __init__(
        self,
        store: Store,
        retention_days: int,
        chunk_bytes: int = cloudtrail.CHUNK_BYTES,
        flow_chunk_bytes: int = flowlogs.CHUNK_BYTES,
    ) -> None:
        # One INSERT must stay one block (the views number rows within a block): the flow INSERT
        # says so with its block size settings (ingest.flowlog_load._send), trail chunks hold far
        # fewer records than a block's default rows.
        if not (0 < chunk_bytes <= MAX_INSERT_BYTES and 0 < flow_chunk_bytes <= MAX_INSERT_BYTES):
            raise ValueError(f"chunk sizes must be between 1 and {MAX_INSERT_BYTES}")
        self.store = store
        self.retention_days = retention_days
        self.chunk_bytes = chunk_bytes
        # Flow lines are cheaper to load than trail records: larger INSERTs spread the views'
        # fixed cost per INSERT over more lines and leave fewer parts to merge (measured; memory
        # stays bounded by the chunk: about 1.3 GB of resident memory per loading thread at 128 MB).
        self.flow_chunk_bytes = flow_chunk_bytes
        # Flow objects up to this many stored bytes are read whole and sent together.
        self.flow_whole_bytes = flow_chunk_bytes // flowlogs.WHOLE_FRACTION

    def load_id(self, ref: ObjectRef) -> str:
        # A new size or a new retention is a new load: expired records come back when it is raised.
        return f"{ref.object_id}:{ref.size}:{self.retention_days}"

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

    def _record(self, job_id: str, results: Sequence[tuple[_Progress, LoadResult]]) -> None:
        now = datetime.now(UTC)
        rows = [
            [
                r.object_id, p.load_id, job_id, p.ref.source, p.ref.uri, p.ref.log_type.value,
                p.ref.account_id, p.ref.region, p.ref.size, p.checksum, self.retention_days, r.status,
                r.records_read, r.records_loaded, r.records_bad, r.records_expired, r.skipped_items,
                r.first_event, r.last_event, r.message, now,
            ]
            for p, r in results
        ]  # fmt: skip
        self.store.insert(tables.INGEST_OBJECTS, rows, _LEDGER_COLUMNS)

    # -- loading ------------------------------------------------------------------------------

    def load(self, ref: ObjectRef, job_id: str = "") -> LoadResult:
        """Load one object; bad content never raises (the result says what happened)."""
        return self.load_many([ref], job_id)[0]

    def load_many(self, refs: Sequence[ObjectRef], job_id: str = "") -> list[LoadResult]:
        """Load objects, small trail files together in batches; results in the order of refs.

        Bad content never raises. A storage failure is recorded in the ledger as `failed` for the
        objects it hit and then raised, so that the queue retries them.
        """
        progresses = [_Progress(ref, self.load_id(ref)) for ref in refs]
        self._fresh_load_ids(progresses)
        results: dict[int, LoadResult] = {}
        batch = _Batch()
        together: dict[LogType, list[int]] = {}
        try:
            self._mark_duplicates(progresses)
            for index, progress in enumerate(progresses):
                if progress.ref.log_type in NOT_LOADED:
                    results[index] = self._not_loaded(progress)
                elif progress.duplicate_of:
                    results[index] = self._duplicate(progress)
                elif progress.ref.log_type in BATCH_LOADERS:
                    together.setdefault(progress.ref.log_type, []).append(index)
                elif (other := OBJECT_LOADERS.get(progress.ref.log_type)) is not None:
                    results[index] = other(self, progress.ref, progress.load_id)
                elif (export := content_loader(progress.ref)) is not None:
                    results[index] = export(self, progress.ref, progress.load_id)
                elif not self._try_batch(progress, batch):
                    self._load_stream(progress)
                if progress.delegated is not None:
                    results[index] = progress.delegated
                # Bounded by the record text it holds (memory), not by stored (compressed) bytes.
                if len(batch.members) >= BATCH_OBJECTS or batch.size >= self.chunk_bytes:
                    self._flush(batch)
                    batch = _Batch()
            self._flush(batch)
            for log_type, indexes in together.items():
                pairs = [(progresses[i].ref, progresses[i].load_id) for i in indexes]
                results.update(zip(indexes, BATCH_LOADERS[log_type](self, pairs), strict=True))
        except (StorageError, OSError) as exc:
            failed = [(p, self._failed(p, exc)) for i, p in enumerate(progresses) if i not in results]
            self._record(job_id, failed)
            raise
        pending = [p for i, p in enumerate(progresses) if i not in results]
        counts = self._counts([p.load_id for p in pending])
        for index, progress in enumerate(progresses):
            if index not in results:
                results[index] = self._result(progress, counts.get(progress.load_id, _Counts()))
        self._record(job_id, [(progresses[i], results[i]) for i in range(len(progresses))])
        return [results[i] for i in range(len(progresses))]

    def _fresh_load_ids(self, progresses: list[_Progress]) -> None:
        """A load cut short (a crash, a failed insert) left rows counted under its load id; the next
        attempt takes a new id, so that the counts it reconciles are its own.

        Only for CloudTrail objects, whose batches (and so deduplication tokens) differ between
        attempts and whose tables absorb a record sent twice. Registered loaders (flow logs,
        findings) insert deterministic chunks under the same id, so a retry's tokens match the cut
        load's and ClickHouse drops what was already stored: their rollups sum and must never see
        a chunk twice.
        """
        ids = [p.load_id for p in progresses if p.ref.log_type not in OBJECT_LOADERS]
        if not ids:
            return
        rows = self.store.rows(
            f"""SELECT DISTINCT object_id FROM {tables.CLOUDTRAIL_LOAD_COUNTS}
            WHERE object_id IN {{ids:Array(String)}}
            UNION DISTINCT
            SELECT DISTINCT object_id FROM {tables.INGEST_REJECTS}
            WHERE object_id IN {{ids:Array(String)}}""",
            {"ids": ids},
        )
        used = {str(row[0]) for row in rows}
        for progress in progresses:
            if progress.load_id in used and progress.ref.log_type not in OBJECT_LOADERS:
                progress.load_id = f"{progress.load_id}:{uuid.uuid4().hex[:12]}"

    def _mark_duplicates(self, progresses: list[_Progress]) -> None:
        """Hash each object's stored bytes; one already loaded under another name is a duplicate."""
        for progress in progresses:
            if progress.ref.log_type not in NOT_LOADED:
                progress.checksum = object_checksum(progress.ref)
        by_checksum: dict[str, _Progress] = {}
        for progress in progresses:
            if not progress.checksum:
                continue
            first = by_checksum.setdefault(progress.checksum, progress)
            if first is not progress:
                progress.duplicate_of = first.ref.uri
        checksums = sorted({p.checksum for p in progresses if p.checksum and not p.duplicate_of})
        if not checksums:
            return
        rows = self.store.rows(
            f"""SELECT checksum, any(uri) FROM {tables.INGEST_OBJECTS} FINAL
            WHERE checksum IN {{sums:Array(String)}} AND object_id NOT IN {{ids:Array(String)}}
              AND status IN {{loaded:Array(String)}} AND retention_days = {{retention:UInt32}}
            GROUP BY checksum""",
            {
                "sums": checksums,
                "ids": [p.ref.object_id for p in progresses],
                "loaded": [LOADED, PARTIAL],
                "retention": self.retention_days,
            },
        )
        loaded = {str(checksum): str(uri) for checksum, uri in rows}
        for progress in progresses:
            if not progress.duplicate_of and progress.checksum in loaded:
                progress.duplicate_of = loaded[progress.checksum]

    def _try_batch(self, progress: _Progress, batch: _Batch) -> bool:
        """Read a small object whole; a clean trail file in one piece joins the batch."""
        if progress.ref.size > SMALL_OBJECT_BYTES:
            return False
        stream = object_stream(progress.ref)
        data = b"".join(_until_corrupt(stream.pieces(), progress))
        progress.bytes_read = stream.bytes_read
        progress.shape = cloudtrail.sniff(data[: 64 * 1024])
        if progress.shape is Shape.JSON and guardduty.looks_like_findings(data[: 64 * 1024]):
            self._delegate(progress, LogType.GUARDDUTY)
            return True
        kind = directory.export_kind(data[:1024])
        if kind is not None and not progress.corrupt:
            self._load_export(progress, kind, data)
            return True
        if progress.shape is Shape.RECORDS_FILE and not progress.corrupt:
            try:
                chunks = list(RecordsFileChunker(iter([data]), self.chunk_bytes))
            except (TruncatedRecords, NoBoundary):
                chunks = []
            # Only a file whose record count is certain may share an INSERT with others.
            count = cloudtrail.count_records(chunks[0][1]) if len(chunks) == 1 else None
            if count is not None:
                batch.add(progress, chunks[0][1], count)
                return True
        if progress.shape is Shape.JSON:
            chunks_json = list(cloudtrail.tolerant_stream(iter([data]), 0, self.chunk_bytes))
            if len(chunks_json) == 1:
                chunk = chunks_json[0]
                self._note_tolerant(progress, chunk)
                if chunk.data:
                    batch.add(progress, chunk.data, len(chunk.positions), chunk.positions)
                return True
        self._load_pieces(progress, iter([data]))
        return True

    def _flush(self, batch: _Batch) -> None:
        if not batch.members:
            return
        segments: dict[str, list[Any]] = {"objects": [], "accounts": [], "starts": []}
        positions: list[int] = []
        start = 0
        for progress, _data, count, member_positions in batch.members:
            segments["objects"].append(progress.load_id)
            segments["accounts"].append(progress.ref.account_id)
            segments["starts"].append(start)
            positions.extend(member_positions or range(count))
            start += count
        explicit = any(member[3] for member in batch.members)
        data = b",".join(member[1] for member in batch.members)
        token = hashlib.sha256("|".join(m[0].load_id + ":" + m[0].checksum for m in batch.members).encode())
        try:
            self._insert(
                data,
                {"segments": segments, "positions": positions if explicit else []},
                f"batch:{token.hexdigest()}",
            )
            for progress, _data, count, _positions in batch.members:
                progress.sent += count
        except BadInput:
            # A member has records ClickHouse cannot split: load each on its own.
            for progress, data_one, _count, member_positions in batch.members:
                if member_positions:
                    self._insert_chunk(progress, Chunk(0, data_one, positions=member_positions), 0)
                else:
                    self._insert_records_file(progress, iter([(0, data_one)]), iter(()))

    def _load_export(self, progress: _Progress, kind: directory.ExportKind, data: bytes) -> None:
        now = datetime.now(UTC)
        try:
            if kind is directory.ExportKind.ACCOUNTS:
                accounts, unusable = directory.parse_accounts(data)
                rows: list[list[Any]] = [
                    [a.account_id, a.name, a.email, a.status, a.arn, now] for a in accounts
                ]
                columns = ["account_id", "name", "email", "status", "arn", "exported_at"]
                table = tables.DIRECTORY_ACCOUNTS
            else:
                users, unusable = directory.parse_users(data)
                rows = [
                    [u.identity_store_id, u.user_id, u.user_name, u.display_name, list(u.emails), now]
                    for u in users
                ]
                columns = [
                    "identity_store_id",
                    "user_id",
                    "user_name",
                    "display_name",
                    "emails",
                    "exported_at",
                ]
                table = tables.DIRECTORY_IDENTITY_CENTER_USERS
        except ValueError as exc:
            self._reject(progress, 0, [BadItem(0, f"not valid JSON: {exc}", _head(data))])
            return
        self.store.insert(table, rows, columns)
        progress.export_read = len(rows) + unusable
        progress.export_loaded = len(rows)
        if unusable:
            bad = [BadItem(i, f"{kind} entry without an id", "") for i in range(unusable)]
            self._reject(progress, 0, bad)

    def _delegate(self, progress: _Progress, log_type: LogType) -> None:
        """Content of another log type than its name says (GuardDuty findings among trail files)."""
        progress.ref = dataclasses.replace(progress.ref, log_type=log_type)
        progress.delegated = OBJECT_LOADERS[log_type](self, progress.ref, progress.load_id)

    def _load_stream(self, progress: _Progress) -> None:
        stream = object_stream(progress.ref)
        pieces = _until_corrupt(stream.pieces(), progress)
        first = next(pieces, b"")
        progress.shape = cloudtrail.sniff(first)
        kind = directory.export_kind(first[:1024])
        if progress.shape is Shape.JSON and guardduty.looks_like_findings(first):
            self._delegate(progress, LogType.GUARDDUTY)
        elif kind is not None:
            self._load_export(progress, kind, b"".join(itertools.chain([first], pieces)))
        else:
            self._load_pieces(progress, itertools.chain([first], pieces))
        progress.bytes_read = stream.bytes_read

    def _load_pieces(self, progress: _Progress, pieces: Iterator[bytes]) -> None:
        shape = progress.shape
        if shape is Shape.RECORDS_FILE:
            chunker = RecordsFileChunker(pieces, self.chunk_bytes)
            self._insert_records_file(progress, iter(chunker), pieces, chunker)
        elif shape is Shape.JSON:
            self._insert_tolerant(progress, pieces, 0, 0)
        elif shape is Shape.NOT_JSON:
            head = b"".join(itertools.islice(pieces, 1))
            self._reject(progress, 0, [BadItem(0, "not JSON: not a CloudTrail log file", _head(head))])
        elif shape is Shape.DIGEST:
            progress.skipped["cloudtrail-digest"] = 1
        if progress.corrupt:
            reason = f"{progress.corrupt} after {progress.bytes_read or '?'} stored bytes"
            self._reject(progress, 0, [BadItem(0, reason, "")])

    def _insert_records_file(
        self,
        progress: _Progress,
        chunks: Iterator[tuple[int, bytes]],
        rest: Iterator[bytes],
        chunker: RecordsFileChunker | None = None,
    ) -> None:
        """Insert a trail file's chunks; from the first chunk ClickHouse refuses (or the point where
        the file breaks), the tolerant reader takes over the rest of the stream."""
        sent = 0
        try:
            for index, (offset, data) in enumerate(chunks):
                try:
                    self._insert_chunk(progress, Chunk(index, data), offset)
                except BadInput:
                    # Chunks start at true record boundaries: the refused one and all after it
                    # are read again record by record.
                    buffered = chunker.buffered if chunker else b""
                    tail = itertools.chain([data, b",", buffered], rest)
                    self._insert_tolerant(progress, tail, index, offset)
                    return
                sent = index + 1
            return
        except TruncatedRecords as truncated:
            progress.problems.append("file ends inside its Records array")
            tail_pieces: Iterator[bytes] = iter([truncated.args[0]])
        except NoBoundary:
            tail_pieces = itertools.chain([chunker.buffered if chunker else b""], rest)
        self._insert_tolerant(progress, tail_pieces, sent, chunker.records_before if chunker else 0)

    def _insert_tolerant(
        self, progress: _Progress, pieces: Iterator[bytes], first_index: int, first_position: int
    ) -> None:
        for chunk in cloudtrail.tolerant_stream(pieces, first_index, self.chunk_bytes, first_position):
            self._note_tolerant(progress, chunk)
            if chunk.data:
                self._insert_chunk(progress, chunk, 0)

    def _note_tolerant(self, progress: _Progress, chunk: Chunk) -> None:
        """Count what the tolerant reader skipped and record what it found bad."""
        for item in chunk.skipped:
            progress.skipped[item.kind] = progress.skipped.get(item.kind, 0) + 1
        if chunk.bad:
            self._reject(progress, chunk.index, chunk.bad)

    def _insert_chunk(self, progress: _Progress, chunk: Chunk, offset: int) -> None:
        load: dict[str, Any] = {
            "object_id": progress.load_id,
            "chunk": chunk.index,
            "account": progress.ref.account_id,
            "offset": offset,
            "positions": list(chunk.positions),
        }
        digest = hashlib.sha256(chunk.data).hexdigest()
        self._insert(chunk.data, load, f"cloudtrail:{progress.load_id}:{chunk.index}:{digest}")
        count = len(chunk.positions) if chunk.positions else cloudtrail.count_records(chunk.data)
        if count is None:
            progress.sent_unknown = True
        else:
            progress.sent += count

    def _insert(self, data: bytes, load: dict[str, Any], token: str) -> None:
        settings = {
            "log_comment": orjson.dumps(load).decode(),
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            # Parallel parsing splits input at ~10 MiB and cannot start a segment at a comma.
            "input_format_parallel_parsing": 0,
            # Monthly partitions: an export spanning more than 100 months is still one honest load.
            "throw_on_max_partitions_per_insert_block": 0,
        }
        geo.prepare(self.store, data)  # the networks of new source addresses, before the rows need them
        self.store.raw_insert(tables.CLOUDTRAIL_LANDING, ["raw"], data, "JSONAsString", settings)

    def _reject(self, progress: _Progress, chunk_index: int, bad: Iterable[BadItem]) -> None:
        rows = [
            [progress.load_id, chunk_index, item.position, item.reason[:200], item.excerpt] for item in bad
        ]
        progress.python_bad += len(rows)
        token = hashlib.sha256(orjson.dumps(rows)).hexdigest()
        self.store.insert(
            tables.INGEST_REJECTS,
            rows,
            ["object_id", "chunk", "position", "reason", "excerpt"],
            {"insert_deduplication_token": f"rejects:{token}"},
        )

    # -- results ------------------------------------------------------------------------------

    def _counts(self, load_ids: list[str]) -> dict[str, _Counts]:
        if not load_ids:
            return {}
        retention = self.retention_days
        cutoff = date(1970, 1, 2) if retention == 0 else datetime.now(UTC).date() - timedelta(days=retention)
        rows = self.store.rows(
            f"""SELECT object_id, sum(records_read), sum(records_valid),
                sumIf(records_valid, day < {{cutoff:Date}}),
                minIf(first_event, day > '1970-01-01'), maxIf(last_event, day > '1970-01-01')
            FROM {tables.CLOUDTRAIL_LOAD_COUNTS}
            WHERE object_id IN {{ids:Array(String)}} GROUP BY object_id""",
            {"ids": load_ids, "cutoff": cutoff},
        )
        rejected: dict[str, int] = dict(
            self.store.rows(
                f"""SELECT object_id, count() FROM {tables.INGEST_REJECTS}
                WHERE object_id IN {{ids:Array(String)}} GROUP BY object_id""",
                {"ids": load_ids},
            )
        )
        found = {
            str(oid): _Counts(
                int(read), int(valid), int(expired), int(rejected.get(oid, 0)), _utc(first), _utc(last)
            )
            for oid, read, valid, expired, first, last in rows
        }
        for oid, count in rejected.items():
            found.setdefault(str(oid), _Counts(rejected=int(count)))
        return found

    def _result(self, progress: _Progress, counts: _Counts) -> LoadResult:
        if counts.read != progress.sent and not progress.sent_unknown:
            # The views attribute rows to objects; a mismatch means rows went to the wrong object.
            progress.problems.append(
                f"reconciliation: {progress.sent} records sent, {counts.read} counted for this object"
            )
        engine_bad = counts.read - counts.valid
        if counts.rejected != engine_bad + progress.python_bad:
            progress.problems.append(
                f"reconciliation: {engine_bad + progress.python_bad} rejects expected, "
                f"{counts.rejected} recorded"
            )
        skipped = sum(progress.skipped.values())
        bad = counts.rejected
        status = self._status(progress, counts)
        notes = list(progress.problems)
        notes += [f"{count} {kind} skipped" for kind, count in sorted(progress.skipped.items())]
        if counts.expired:
            notes.append(f"{counts.expired} records older than the {self.retention_days}-day retention")
        if status == LOADED and counts.read == 0 and not skipped and not progress.export_read:
            notes.append("no records in this object")
        if progress.export_read:
            notes.append(f"operator export: {progress.export_loaded} entries")
        return LoadResult(
            progress.ref.object_id, progress.ref.uri, progress.ref.log_type, status,
            records_read=counts.valid + bad + skipped + progress.export_loaded,
            records_loaded=counts.valid - counts.expired + progress.export_loaded,
            records_bad=bad, records_expired=counts.expired, skipped_items=skipped,
            bytes_read=progress.bytes_read, first_event=counts.first if counts.valid else None,
            last_event=counts.last if counts.valid else None,
            message="; ".join(notes),
        )  # fmt: skip

    @staticmethod
    def _status(progress: _Progress, counts: _Counts) -> str:
        if progress.shape is Shape.DIGEST:
            return SKIPPED
        nothing_loaded = counts.valid == 0 and progress.export_loaded == 0
        if progress.shape is Shape.NOT_JSON or (nothing_loaded and counts.rejected > 0):
            return FAILED
        if progress.shape is Shape.EMPTY and progress.corrupt:
            return FAILED
        return PARTIAL if counts.rejected or progress.problems else LOADED

    @staticmethod
    def _not_loaded(progress: _Progress) -> LoadResult:
        kind = progress.ref.log_type
        return LoadResult(
            progress.ref.object_id, progress.ref.uri, kind, SKIPPED, message=f"{kind} not loaded"
        )

    @staticmethod
    def _duplicate(progress: _Progress) -> LoadResult:
        ref = progress.ref
        message = f"same content as {progress.duplicate_of}: its records are loaded once"
        return LoadResult(ref.object_id, ref.uri, ref.log_type, DUPLICATE, message=message)

    @staticmethod
    def _failed(progress: _Progress, exc: Exception) -> LoadResult:
        ref = progress.ref
        reason = f"cannot read: {exc}" if isinstance(exc, OSError) else f"storage error: {exc}"
        return LoadResult(ref.object_id, ref.uri, ref.log_type, FAILED, message=reason[:1000])


def _until_corrupt(pieces: Iterator[bytes], progress: _Progress) -> Iterator[bytes]:
    """Yield pieces until the stream breaks; a broken stream ends the object where it broke."""
    try:
        yield from pieces
    except CorruptObject as exc:
        progress.corrupt = str(exc)
        progress.problems.append(str(exc))


def _head(data: bytes) -> str:
    return data[:200].decode("utf-8", errors="replace")


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Loaders of other log types register themselves on import (after the names they use exist).
from ingest import flowlog_load, guardduty_load, inventory_load  # noqa: E402,F401
