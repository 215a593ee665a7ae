"""Stage costs of loading trail files, one thread, one process (run by bench._child).

Each pass repeats the passes before it and adds one stage, over every file, so that the cost of a
stage is the difference between two passes. The inserts go in the units the loader sends: the
workers' message groups (ingest.actors.batches, when it exists); in a group, small objects are read
whole and, when they are one chunk, joined into INSERTs of up to BATCH_OBJECTS objects or
CHUNK_BYTES of record text with a `segments` log_comment; other objects are streamed chunk by chunk. The
ClickHouse passes use scratch databases of this process's engine holding production objects
only (statements taken from the migration files): the landing table alone (Null, no views), the
landing table with the parsing view into Null, and a full migrated database without the ledger.
The last pass is the real Loader. Between passes the engine's background merges are left to
finish (the wait is reported, not counted), so that a pass does not pay for the one before it.
A probe measures the fixed cost of one INSERT into each target.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from clickhouse import migrate, retention, tables
from clickhouse.client import Store
from clickhouse.settings import StoreSettings
from ingest import cloudtrail
from ingest.sources import READ_BYTES, ByteStream, LogType, ObjectRef, walk

Result = dict[str, Any]
Unit = tuple[bytes, dict[str, Any]]  # one INSERT: record texts and the log_comment object

INSERT_ONLY_DB = "bench_insert_only"
PARSE_ONLY_DB = "bench_parse_only"
ALL_VIEWS_DB = "bench_all_views"
PARSED_MV = "cloudtrail_parsed_mv"
PROBE_INSERTS = 20
_CREATE = re.compile(r"CREATE\s+(?:TABLE|MATERIALIZED\s+VIEW)\s+IF\s+NOT\s+EXISTS\s+(\w+)", re.IGNORECASE)
_BOUNDARY = b'},{"eventVersion"'


def migration_statements(names: tuple[str, ...]) -> list[str]:
    """The production CREATE statements of the named tables and views, in the order given."""
    found: dict[str, str] = {}
    for migration in migrate.discover():
        for statement in migration.statements():
            match = _CREATE.search(statement)
            if match and match.group(1) in names:
                found[match.group(1)] = statement
    missing = [name for name in names if name not in found]
    if missing:
        raise RuntimeError(f"not found in the migrations: {', '.join(missing)}")
    return [found[name] for name in names]


def scratch_store(settings: StoreSettings, database: str, names: tuple[str, ...]) -> Store:
    """A scratch database in this process's engine holding only the named production objects."""
    server = Store(settings).server_client()
    try:
        server.command(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    finally:
        server.close()
    store = Store(settings, database=database)
    for statement in migration_statements(names):
        store.command(statement)
    return store


def load_groups(refs: list[ObjectRef]) -> tuple[list[list[ObjectRef]], str]:
    """The workers' message groups, or one object per group when the actors have no batching."""
    from ingest.broker import setup_broker
    from ingest.settings import IngestSettings

    setup_broker(IngestSettings(redis_url=""))  # ingest.actors binds to the broker current at import
    from ingest import actors

    batches: Callable[[list[ObjectRef]], list[list[ObjectRef]]] | None = getattr(actors, "batches", None)
    if batches is None:
        return [[ref] for ref in refs], "one object per message"
    return batches(refs), "ingest.actors.batches"


def _count_records(chunk: bytes) -> int:
    count: Callable[[bytes], int] | None = getattr(cloudtrail, "count_records", None)
    return count(chunk) if count else chunk.count(_BOUNDARY) + 1


def _chunks(ref: ObjectRef) -> Iterator[bytes]:
    return cloudtrail.records_file_chunks(ByteStream(Path(ref.uri)).pieces(), cloudtrail.CHUNK_BYTES)


def _load_id(ref: ObjectRef) -> str:
    return f"{ref.object_id}:{ref.size}:0"


def units(groups: list[list[ObjectRef]]) -> Iterator[Unit]:
    """What the loader sends per group: small objects read whole and, when they are one chunk,
    joined into INSERTs (BATCH_OBJECTS objects or CHUNK_BYTES at most); the others chunk by chunk."""
    from ingest import load

    small = int(getattr(load, "SMALL_OBJECT_BYTES", 0))
    batch_objects = int(getattr(load, "BATCH_OBJECTS", 1))
    for group in groups:
        members: list[tuple[ObjectRef, bytes]] = []
        size = 0
        for ref in group:
            chunks: Iterable[bytes] = _chunks(ref)
            if len(group) > 1 and ref.size <= small:
                whole = b"".join(ByteStream(Path(ref.uri)).pieces())
                chunks = list(cloudtrail.records_file_chunks([whole], cloudtrail.CHUNK_BYTES))
                if len(chunks) == 1:
                    members.append((ref, chunks[0]))
                    size += len(chunks[0])
                    # The Loader flushes a batch at BATCH_OBJECTS objects or CHUNK_BYTES of record text.
                    if len(members) >= batch_objects or size >= cloudtrail.CHUNK_BYTES:
                        yield _joined(members)
                        members, size = [], 0
                    continue
            for index, data in enumerate(chunks):
                yield data, _single(ref, index)
        if members:
            yield _joined(members)


def _single(ref: ObjectRef, index: int) -> dict[str, Any]:
    return {"object_id": _load_id(ref), "chunk": index, "account": ref.account_id, "offset": 0}


def _joined(members: list[tuple[ObjectRef, bytes]]) -> Unit:
    starts, start = [], 0
    for _ref, data in members:
        starts.append(start)
        start += _count_records(data)
    segments = {
        "objects": [_load_id(ref) for ref, _data in members],
        "accounts": [ref.account_id for ref, _data in members],
        "starts": starts,
    }
    return b",".join(data for _ref, data in members), {"segments": segments}


def insert(store: Store, data: bytes, load: dict[str, Any], tag: str) -> int:
    """One INSERT with the settings the loader sends (mirrored: the Loader keeps them private)."""
    comment = json.dumps(load, separators=(",", ":"))
    # Unique per unit and cheap, like the loader's batch token (load ids, not the bytes, are hashed).
    token = hashlib.sha256(f"{comment}:{len(data)}".encode()).hexdigest()
    settings = {
        "log_comment": comment,
        "insert_deduplication_token": f"bench:{tag}:{token}",
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "input_format_parallel_parsing": 0,
    }
    return store.raw_insert(tables.CLOUDTRAIL_LANDING, ["raw"], data, "JSONAsString", settings)


def probe(store: Store, record: bytes, tag: str) -> float:
    """Milliseconds per INSERT of one record (mean of PROBE_INSERTS, after one warm-up)."""
    load = {"object_id": f"probe:{tag}", "chunk": 0, "account": "", "offset": 0}
    insert(store, record, load, f"{tag}:warm")
    start = time.perf_counter()
    for index in range(PROBE_INSERTS):
        # A distinct token each time: deduplication must not skip the work being measured.
        insert(store, record, load, f"{tag}:{index}")
    return (time.perf_counter() - start) / PROBE_INSERTS * 1000


def settle(store: Store, limit: float = 300.0) -> float:
    """Wait until the engine runs no background merge; seconds waited (not part of any pass)."""
    start = time.perf_counter()
    while store.scalar("SELECT count() FROM system.merges") and time.perf_counter() - start < limit:
        time.sleep(0.1)
    return time.perf_counter() - start


def task_stages(params: dict[str, Any]) -> Result:
    from api.cli import open_store
    from ingest.load import Loader

    settings = StoreSettings(data_dir=Path(params["store"]), retention_days=0)
    refs = [ref for ref in walk(Path(params["logs"])) if ref.log_type is LogType.CLOUDTRAIL]
    groups, grouping = load_groups(refs)
    main = open_store(settings, owner=True)
    insert_only = scratch_store(settings, INSERT_ONLY_DB, (tables.CLOUDTRAIL_LANDING,))
    parse_only = scratch_store(
        settings, PARSE_ONLY_DB, (tables.CLOUDTRAIL_LANDING, tables.CLOUDTRAIL_PARSED, PARSED_MV)
    )
    all_views = Store(settings, database=ALL_VIEWS_DB)
    migrate.apply(all_views)
    retention.apply_retention(all_views, 0)
    # The same schema without attribution (the issuance view): what attribution costs at ingest.
    no_attribution = Store(settings, database=ALL_VIEWS_DB + "_no_attribution")
    migrate.apply(no_attribution)
    retention.apply_retention(no_attribution, 0)
    no_attribution.command(f"DROP VIEW IF EXISTS {tables.CLOUDTRAIL_ISSUANCES}_mv")
    targets = {"Null, no views": insert_only, "parse view": parse_only, "all views": all_views}

    def read() -> int:
        for ref in refs:
            with Path(ref.uri).open("rb") as handle:
                while handle.read(READ_BYTES):
                    pass
        return 0

    def gunzip() -> int:
        for ref in refs:
            for _piece in ByteStream(Path(ref.uri)).pieces():
                pass
        return 0

    def split() -> int:
        return sum(1 for _unit in units(groups))

    def insert_into(store: Store, tag: str) -> Callable[[], int]:
        return lambda: sum(insert(store, data, load, tag) for data, load in units(groups))

    def full() -> int:
        loader = Loader(main, 0)
        # load_many (small objects together) where the Loader has it, else one object at a time.
        load_many = getattr(loader, "load_many", None)
        loaded = 0
        for group in groups:
            results = load_many(group, "bench") if load_many else [loader.load(ref, "bench") for ref in group]
            loaded += sum(int(result.records_loaded) for result in results)
        return loaded

    passes: list[tuple[str, Callable[[], int], Store | None]] = [
        ("read files", read, None),
        ("+ gunzip (ByteStream)", gunzip, None),
        ("+ split into chunks and batches", split, None),
        ("+ ClickHouse JSONAsString insert (Null, no views)", insert_into(insert_only, "insert"), None),
        ("+ parse view (cloudtrail_parsed_mv -> Null)", insert_into(parse_only, "parse"), None),
        ("  (all views but attribution's issuances)", insert_into(no_attribution, "no-attr"), no_attribution),
        ("+ all views and tables (no ledger)", insert_into(all_views, "views"), all_views),
        ("+ ledger = Loader, the full pipeline", full, main),
    ]
    stages: list[Result] = []
    try:
        for name, run, store in passes:
            queries = store.queries_run if store else 0
            cpu = time.process_time()
            start = time.perf_counter()
            count = run()
            seconds = time.perf_counter() - start
            trips = store.queries_run - queries if store else None
            cpu = time.process_time() - cpu
            # Merges the pass started finish before the next pass, which would otherwise pay for them.
            merges = settle(main)
            stage = {"stage": name, "seconds": seconds, "cpu_seconds": cpu, "count": count}
            stages.append({**stage, "round_trips": trips, "merge_wait_seconds": merges})
        events = main.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}")
        scratch_events = all_views.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}")
        first = next(_chunks(refs[0]), b"")
        record = first[: first.find(_BOUNDARY) + 1] if _BOUNDARY in first else first
        probes = {
            name: probe(store, record, f"probe-{index}")
            for index, (name, store) in enumerate(targets.items())
        }
    finally:
        for store in (main, no_attribution, *targets.values()):
            store.close()
    return {
        "objects": len(refs),
        "groups": len(groups),
        "grouping": grouping,
        "inserts": stages[2]["count"],
        "stages": stages,
        "events": int(events or 0),
        "scratch_events": int(scratch_events or 0),
        "insert_probe_ms": probes,
    }
