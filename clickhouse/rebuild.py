"""Rebuild the tables derived from cloudtrail_events, so that later features cover earlier data.

The derived tables are filled by materialized views on cloudtrail_events. A rebuild empties them
and re-inserts the stored events partition by partition into cloudtrail_events itself: the views
fire again, and the duplicate event rows collapse when the partition is merged (ReplacingMergeTree).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from clickhouse import tables
from clickhouse.client import Store


class IngestRunning(RuntimeError):
    """Loads ran, or are running, while a rebuild replays stored rows: what they wrote may be
    counted twice or lost in the rebuilt tables."""


class Quiet:
    """Watches that nothing loads while a rebuild runs: no INSERT running in this database (other
    than the rebuild's own) and no object entered in the ledger since the rebuild started. Checked
    before the rebuild and after each partition, so a rebuild run beside the workers of a server
    stops with a clear error rather than rebuilding wrong figures."""

    def __init__(self, store: Store, what: str) -> None:
        self.store = store
        self.what = what
        # The loaders' clock: they stamp the ledger's loaded_at.
        self.since = datetime.now(UTC)
        self.check()

    def check(self) -> None:
        running = int(
            self.store.scalar(
                "SELECT count() FROM system.processes WHERE query_kind = 'Insert' "
                "AND current_database = currentDatabase() AND query_id != queryID()"
            )
            or 0
        )
        loaded = int(
            self.store.scalar(
                f"SELECT count() FROM {tables.INGEST_OBJECTS} WHERE loaded_at >= {{since:DateTime64(3)}}",
                {"since": self.since},
            )
            or 0
        )
        if running or loaded:
            raise IngestRunning(
                f"ingest is running (INSERTs now: {running}; objects loaded since the rebuild of {self.what} "
                f"started: {loaded}): rows loaded meanwhile may be counted twice or missed; stop the "
                "workers and run the rebuild again (it starts over and counts every stored row once)"
            )


def rebuild(store: Store, progress: Callable[[str, int, int], None] | None = None) -> int:
    """Refill every derived table from the stored events; returns the number of partitions replayed.
    Raises IngestRunning when loads run meanwhile."""
    quiet = Quiet(store, "events")
    for table in tables.DERIVED_FROM_EVENTS:
        store.command(f"TRUNCATE TABLE IF EXISTS {table}")
    partitions = stored_partitions(store, tables.CLOUDTRAIL_EVENTS)
    run = uuid.uuid4().hex
    for index, partition in enumerate(partitions, 1):
        store.command(
            f"INSERT INTO {tables.CLOUDTRAIL_EVENTS} SELECT * FROM {tables.CLOUDTRAIL_EVENTS} FINAL "
            "WHERE _partition_id = {partition:String}",
            {"partition": partition},
            # A fresh token: identical blocks from an earlier rebuild must not be skipped.
            {"insert_deduplication_token": f"rebuild:{run}:{partition}"},
        )
        # Partition ids come from system.parts and are YYYYMM digits (checked): OPTIMIZE takes no parameters.
        if partition.isdigit():
            store.command(f"OPTIMIZE TABLE {tables.CLOUDTRAIL_EVENTS} PARTITION ID '{partition}' FINAL")
        if progress:
            progress(partition, index, len(partitions))
        quiet.check()
    return len(partitions)


def stored_partitions(store: Store, table: str) -> list[str]:
    """The ids of the partitions that hold rows of a table, in order (YYYYMM for monthly ones)."""
    return [
        str(row[0])
        for row in store.rows(
            "SELECT DISTINCT partition_id FROM system.parts WHERE database = currentDatabase() "
            "AND table = {table:String} AND active ORDER BY partition_id",
            {"table": table},
        )
    ]
