"""Rebuild the flow log rollups from the stored flow records, after a rollup changed or was lost.

flowlog_remote_hourly, flowlog_interface_hourly and the flow rows of instance_interfaces are filled
by materialized views on the Null table flowlog_parsed. A rebuild replays the stored records into
flowlog_parsed, one partition (a month) at a time, through the view flowlog_records_replay: the
rollup views of the migrations compute the rollups again, and no copy of them lives here. Replayed
rows carry no object id, and the views that record loads skip them: flowlog_load_counts (what
loads reconcile against) is left alone and the records are not written a second time. Each
partition's rollup rows are removed just before it is replayed, so a rebuild, a second one or one
run again after a crash counts every record once.

Months of the rollups without stored records (records dropped by a lowered retention) are left as
they are: nothing could fill them again. Run it with ingest stopped (the CLI owns an embedded store;
stop the workers of a server): a flow loaded between a partition's removal and its replay would be
counted twice. A rebuild that finds loads running, or loaded since it started, stops with
IngestRunning (clickhouse.rebuild.Quiet) rather than leave such figures unsaid.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.errors import SchemaError
from clickhouse.rebuild import Quiet, stored_partitions

# The source of the rows instance_interfaces_flowlog_mv writes to instance_interfaces.
FLOW_SOURCE = "flowlogs"


@dataclass(frozen=True)
class FlowRebuild:
    """What a rebuild replayed: partitions (months) and the records in them."""

    partitions: int
    records: int


def rebuild_flows(store: Store, progress: Callable[[str, int, int], None] | None = None) -> FlowRebuild:
    """Refill the flow rollups from flowlog_records, partition by partition; progress gets
    (partition id, its number, partitions in all) after each one. Raises IngestRunning when loads
    run meanwhile."""
    if not store.scalar(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {name:String}",
        {"name": tables.FLOWLOG_RECORDS_REPLAY},
    ):
        raise SchemaError(
            f"{tables.FLOWLOG_RECORDS_REPLAY} is missing: without it and the views that skip replayed "
            "rows, a rebuild would count every record again as loaded; migrate the store first"
        )
    quiet = Quiet(store, "flows")
    partitions = stored_partitions(store, tables.FLOWLOG_RECORDS)
    run = uuid.uuid4().hex
    records = 0
    for index, partition in enumerate(partitions, 1):
        records += _replay(store, partition, f"flowrebuild:{run}:{partition}")
        if progress:
            progress(partition, index, len(partitions))
        quiet.check()
    return FlowRebuild(len(partitions), records)


def _replay(store: Store, partition: str, token: str) -> int:
    # flowlog_records is partitioned by toYYYYMM(start_time), the rollups by toYYYYMM(hour) of the
    # same time, and a flow row of instance_interfaces starts at its day's first record: a month of
    # records fills exactly that month of each.
    if not partition.isdigit():
        raise SchemaError(f"{tables.FLOWLOG_RECORDS} has a partition {partition!r}, not a month (YYYYMM)")
    params = {"partition": partition}
    for table in tables.FLOW_ROLLUPS:
        store.command(f"ALTER TABLE {table} DROP PARTITION ID {{partition:String}}", params)
    store.command(
        f"DELETE FROM {tables.INSTANCE_INTERFACES} "
        "WHERE source = {source:String} AND toYYYYMM(valid_from) = {month:UInt32}",
        {"source": FLOW_SOURCE, "month": int(partition)},
    )
    count = int(
        store.scalar(
            f"SELECT count() FROM {tables.FLOWLOG_RECORDS} FINAL WHERE _partition_id = {{partition:String}}",
            params,
        )
        or 0
    )
    store.command(
        f"INSERT INTO {tables.FLOWLOG_PARSED} "
        f"SELECT * FROM {tables.FLOWLOG_RECORDS_REPLAY}(partition = {{partition:String}})",
        params,
        {
            # A fresh token: blocks identical to those of an earlier rebuild must not be skipped.
            "insert_deduplication_token": token,
            "deduplicate_blocks_in_dependent_materialized_views": 1,
            # As for loads: the rollups are merged at merge time and read with sums or FINAL.
            "optimize_on_insert": 0,
        },
    )
    return count
