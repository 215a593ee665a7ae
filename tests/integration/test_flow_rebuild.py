"""Flow rollups rebuilt from the stored flow records: the same rollups and reads, the ledger untouched.

Flow files go through the real Loader and views (tests/data/flowlogs and a file written here with a
region field over two months), then the rollups are lost and rebuilt by replaying the records.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from api.flowlogs import reads as flow_reads
from api.instances import reads as instance_reads
from clickhouse import flow_rebuild, migrate, tables
from clickhouse.client import Store
from clickhouse.rebuild import IngestRunning
from clickhouse.retention import apply_retention
from clickhouse.settings import StoreSettings
from ingest.load import Loader
from ingest.sources import ObjectRef, file_ref
from tests.data.flowlogs import make
from tests.integration.test_flowlog_load import flow_ref
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

SPAN = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
OTHER_INSTANCE = "i-0f10a00000000b0b0"


@pytest.fixture(scope="module")
def replay_store(store_settings: StoreSettings) -> Iterator[Store]:
    """The migrations on a database of this module's own."""
    store = Store(store_settings, database=f"roletrail_flow_rebuild_{uuid.uuid4().hex[:8]}")
    try:
        migrate.apply(store)
        apply_retention(store, 0)
        yield store
    finally:
        server = store.server_client()
        try:
            server.command(f"DROP DATABASE IF EXISTS `{store.database}` SYNC")
        finally:
            server.close()
        store.close()


@pytest.fixture
def fresh(replay_store: Store) -> Store:
    truncate_all(replay_store)
    return replay_store


def _two_month_file(root: Path) -> Path:
    """A version-4 custom format with a region field, flows in May and June 2024 of another instance."""
    header = "version vpc-id instance-id interface-id region srcaddr dstaddr srcport dstport protocol " + (
        "packets bytes start end action log-status"
    )
    flows = [
        ("eni-0f10a00000000b0b0", "10.2.0.9", "52.94.0.20", 41000, 443, 1714557600),  # 2024-05-01 10:00
        ("eni-0f10a00000000b0b0", "52.94.0.20", "10.2.0.9", 443, 41000, 1714557600),
        ("eni-0f10a00000000b0b0", "10.2.0.9", "52.94.0.21", 41001, 443, 1717405200),  # 2024-06-03 09:00
    ]
    lines = [header] + [
        f"4 vpc-0f10a000000000002 {OTHER_INSTANCE} {eni} us-east-2 {src} {dst} {sport} {dport} 6 3 "
        f"{300 + n} {start} {start + 60} ACCEPT OK"
        for n, (eni, src, dst, sport, dport, start) in enumerate(flows)
    ]
    name = f"{make.ACCOUNT}_vpcflowlogs_eu-west-1_fl-0region000000004_20240603T0905Z_ff04.log"
    path = root / "AWSLogs" / make.ACCOUNT / "vpcflowlogs" / "eu-west-1" / "2024" / "06" / "03" / name
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _refs(tmp_path: Path) -> list[ObjectRef]:
    refs = [file_ref(make.path(i)) for i in (0, 1, 2, 5)]
    return [*refs, flow_ref(make.path(3)), file_ref(_two_month_file(tmp_path))]


def _load(store: Store, tmp_path: Path, refs: list[ObjectRef] | None = None) -> None:
    loader = Loader(store, retention_days=0)
    loader.load_many(_refs(tmp_path) if refs is None else refs)
    # An address that another source (an operator's inventory) gave: not the rebuild's to touch.
    store.insert(
        tables.INSTANCE_INTERFACES,
        [[OTHER_INSTANCE, "eni-0f10a00000000b0b0", "10.2.0.9", "private", "inventory", make.ACCOUNT,
          "eu-west-1", datetime(2024, 4, 1), datetime(2024, 4, 2), "inventory.json"]],
        ["instance_id", "interface_id", "address", "address_kind", "source", "account_id", "region",
         "valid_from", "valid_to", "evidence"],
    )  # fmt: skip


def _rollups(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every rollup as the reads see it: merged rows, flow rows of instance_interfaces per key."""
    return {
        table: [tuple(r) for r in store.rows(f"SELECT * FROM {table} FINAL ORDER BY ALL")]
        for table in tables.FLOW_ROLLUPS
    } | {
        tables.INSTANCE_INTERFACES: [
            tuple(r)
            for r in store.rows(
                f"""SELECT instance_id, interface_id, address, address_kind, source, account_id, region,
                    evidence, min(valid_from), max(valid_to)
                FROM {tables.INSTANCE_INTERFACES}
                GROUP BY instance_id, interface_id, address, address_kind, source, account_id, region,
                    evidence
                ORDER BY ALL"""
            )
        ]
    }


def _reads(store: Store) -> dict[str, Any]:
    """What an investigator sees of the instances' networks, through the API's read functions."""
    interfaces = [make.ENI, "eni-0f10a0000000000a2", "eni-0f10a0000000000a3", "eni-0f10a00000000b0b0"]
    return {
        "traffic": flow_reads.traffic(store, interfaces, *SPAN, 3600),
        "peers": flow_reads.remote_peers(store, interfaces, *SPAN, 50, None),
        "contacts": flow_reads.contacts(store, interfaces, *SPAN),
        "span": flow_reads.activity_span(store, interfaces),
        "days": flow_reads.active_days(store, interfaces, *SPAN),
        "talkers": flow_reads.address_talkers(store, "52.94.0.20", *SPAN, 50),
        "addresses": instance_reads.address_spans(store, [make.INSTANCE, OTHER_INSTANCE]),
        "interfaces": instance_reads.interfaces_of(store, [make.INSTANCE, OTHER_INSTANCE]),
    }


def _ledger(store: Store) -> dict[str, Any]:
    """What loads reconcile against and what they stored: the rebuild must leave it all as it was."""
    return {
        "counts": store.rows(f"SELECT * FROM {tables.FLOWLOG_LOAD_COUNTS} ORDER BY ALL"),
        "objects": store.rows(f"SELECT * FROM {tables.INGEST_OBJECTS} ORDER BY ALL"),
        "rejects": store.rows(
            f"SELECT object_id, chunk, position, reason, excerpt FROM {tables.INGEST_REJECTS} ORDER BY ALL"
        ),
        "records": store.rows(f"SELECT * FROM {tables.FLOWLOG_RECORDS} ORDER BY ALL"),
    }


def _lose_rollups(store: Store) -> None:
    for table in tables.FLOW_ROLLUPS:
        store.command(f"TRUNCATE TABLE {table}")
    store.command(
        f"DELETE FROM {tables.INSTANCE_INTERFACES} WHERE source = {{source:String}}",
        {"source": flow_rebuild.FLOW_SOURCE},
    )


def test_lost_rollups_are_rebuilt_as_the_load_made_them(fresh: Store, tmp_path: Path) -> None:
    # Arrange: five flow files and an export loaded, then every flow rollup lost
    _load(fresh, tmp_path)
    rollups, reads, ledger = _rollups(fresh), _reads(fresh), _ledger(fresh)
    assert all(rollups.values())
    assert len(reads["traffic"]) >= 3
    _lose_rollups(fresh)
    assert _reads(fresh)["traffic"] == []
    # Act
    done = flow_rebuild.rebuild_flows(fresh)
    # Assert: two months replayed, every record once; rollups and reads as loaded, ledger untouched
    assert done == flow_rebuild.FlowRebuild(
        partitions=2, records=int(fresh.scalar(f"SELECT count() FROM {tables.FLOWLOG_RECORDS} FINAL"))
    )
    assert _rollups(fresh) == rollups
    assert _reads(fresh) == reads
    assert _ledger(fresh) == ledger


def test_fields_not_kept_as_columns_come_back_from_the_line_and_the_path(
    fresh: Store, tmp_path: Path
) -> None:
    # Arrange: vpc-id (custom format), region from the line (two-month file) and from the path
    _load(fresh, tmp_path)
    _lose_rollups(fresh)
    # Act
    flow_rebuild.rebuild_flows(fresh)
    # Assert
    vpcs = fresh.rows(
        f"SELECT DISTINCT interface_id, vpc_id FROM {tables.FLOWLOG_INTERFACE_HOURLY} FINAL ORDER BY ALL"
    )
    assert (make.ENI, "vpc-0f10a000000000001") in vpcs
    assert ("eni-0f10a00000000b0b0", "vpc-0f10a000000000002") in vpcs
    regions = fresh.rows(
        f"SELECT DISTINCT instance_id, region FROM {tables.INSTANCE_INTERFACES} "
        "WHERE source = 'flowlogs' ORDER BY ALL"
    )
    assert regions == [(make.INSTANCE, "eu-west-1"), (OTHER_INSTANCE, "us-east-2")]


def test_a_second_rebuild_counts_nothing_twice(fresh: Store, tmp_path: Path) -> None:
    # Arrange
    _load(fresh, tmp_path)
    rollups, reads, ledger = _rollups(fresh), _reads(fresh), _ledger(fresh)
    flow_rebuild.rebuild_flows(fresh)
    # Act: over rollups that are whole, twice
    flow_rebuild.rebuild_flows(fresh)
    flow_rebuild.rebuild_flows(fresh)
    # Assert
    assert _rollups(fresh) == rollups
    assert _reads(fresh) == reads
    assert _ledger(fresh) == ledger


def test_loading_again_after_a_rebuild_still_reconciles(fresh: Store, tmp_path: Path) -> None:
    # Arrange: loaded and rebuilt
    _load(fresh, tmp_path)
    first = {r.object_id: r for r in Loader(fresh, 0).load_many([file_ref(make.path(i)) for i in (0, 2)])}
    flow_rebuild.rebuild_flows(fresh)
    # Act: the objects loaded again (a redelivered message) read their counts from the ledger
    again = Loader(fresh, 0).load_many([file_ref(make.path(i)) for i in (0, 2)])
    # Assert
    assert [(r.status, r.records_read, r.records_loaded, r.records_bad) for r in again] == [
        (first[r.object_id].status, first[r.object_id].records_read, first[r.object_id].records_loaded,
         first[r.object_id].records_bad)
        for r in again
    ]  # fmt: skip


def test_a_rollup_month_without_records_is_kept(fresh: Store, tmp_path: Path) -> None:
    # Arrange: May's records gone (as a lowered retention would drop them), its rollups still there
    _load(fresh, tmp_path)
    may = fresh.rows(f"SELECT * FROM {tables.FLOWLOG_REMOTE_HOURLY} FINAL WHERE toYYYYMM(hour) = 202405")
    assert may
    fresh.command(f"ALTER TABLE {tables.FLOWLOG_RECORDS} DROP PARTITION ID '202405'")
    # Act
    done = flow_rebuild.rebuild_flows(fresh)
    # Assert
    assert done.partitions == 1
    kept = fresh.rows(f"SELECT * FROM {tables.FLOWLOG_REMOTE_HOURLY} FINAL WHERE toYYYYMM(hour) = 202405")
    assert kept == may


def test_the_replay_view_gives_the_columns_of_flowlog_parsed_in_order(replay_store: Store) -> None:
    # Act
    parsed = replay_store.rows(f"DESCRIBE TABLE {tables.FLOWLOG_PARSED}")
    replay = replay_store.rows(
        f"DESCRIBE (SELECT * FROM {tables.FLOWLOG_RECORDS_REPLAY}(partition = {{partition:String}}))",
        {"partition": "202406"},
    )
    # Assert: INSERT ... SELECT * is positional
    assert [row[0] for row in replay] == [row[0] for row in parsed]


def test_a_flow_that_two_flow_logs_delivered_counts_once_after_a_rebuild(
    fresh: Store, tmp_path: Path
) -> None:
    # Arrange: the default file's flows also delivered by a second flow log, in another column order
    other = make.second_flow_log(tmp_path)
    loader = Loader(fresh, retention_days=0)
    loader.load(file_ref(make.path(0)))
    loader.load(file_ref(other))
    day = (datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 4, tzinfo=UTC))
    [loaded] = flow_reads.traffic(fresh, [make.ENI], *day, 86400)
    _lose_rollups(fresh)
    # Act
    flow_rebuild.rebuild_flows(fresh)
    # Assert: the seven records (five with traffic) replayed once each, the day's traffic as loaded
    assert flow_reads.traffic(fresh, [make.ENI], *day, 86400) == [loaded]
    assert (loaded.bytes_in, loaded.bytes_out) == (2200 + 90000 + 40, 5400 + 3000)
    assert fresh.scalar(f"SELECT sum(flows) FROM {tables.FLOWLOG_INTERFACE_HOURLY}") == 5


def test_a_rebuild_that_finds_ingest_running_stops_and_one_run_again_is_right(
    fresh: Store, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Arrange: what every file gives; then all files but the two-month one loaded, the rollups
    # lost, and that file loaded by a worker while the rebuild replays the first month
    _load(fresh, tmp_path)
    expected = _rollups(fresh)
    truncate_all(fresh)
    refs = _refs(tmp_path_factory.mktemp("again"))
    _load(fresh, tmp_path, refs[:-1])
    _lose_rollups(fresh)
    late = Loader(fresh, retention_days=0)

    def worker_loads(partition: str, index: int, count: int) -> None:
        late.load(refs[-1])

    # Act
    with pytest.raises(IngestRunning, match="objects loaded since the rebuild of flows started: 1"):
        flow_rebuild.rebuild_flows(fresh, worker_loads)
    flow_rebuild.rebuild_flows(fresh)
    # Assert: the second rebuild counts every record once
    assert _rollups(fresh) == expected
