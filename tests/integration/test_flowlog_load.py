"""Flow log objects through the real loader and views: every format variant, bad lines, ledger.

Own fixtures: tests/data/flowlogs (make.py there). Third-party samples: ../shared/samples/vpcflow.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clickhouse.client import Store
from ingest.load import FAILED, LOADED, PARTIAL, SKIPPED, Loader, LoadResult
from ingest.sources import LogType, ObjectRef, file_ref
from tests.data.flowlogs import make

pytestmark = pytest.mark.clickhouse

RECORD_COLUMNS = (
    "interface_id", "instance_id", "direction", "local_address", "remote_address", "local_port",
    "remote_port", "protocol", "packets", "bytes", "start_time", "end_time", "action", "log_status", "line",
)  # fmt: skip


def records(store: Store, where: str = "1", params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rows = store.rows(
        f"SELECT {', '.join(RECORD_COLUMNS)} FROM flowlog_records FINAL WHERE {where} "
        "ORDER BY start_time, interface_id, line",
        params or {},
    )
    return [dict(zip(RECORD_COLUMNS, row, strict=True)) for row in rows]


def rejects(store: Store, result: LoadResult) -> list[tuple[int, str]]:
    load_id = store.scalar(
        "SELECT load_id FROM ingest_objects FINAL WHERE object_id = {id:String}", {"id": result.object_id}
    )
    rows = store.rows(
        "SELECT position, reason FROM ingest_rejects WHERE object_id = {id:String} ORDER BY position",
        {"id": str(load_id)},
    )
    return [(int(p), str(r)) for p, r in rows]


def flow_ref(path: Path) -> ObjectRef:
    """A file outside the delivery layout, loaded as a flow log (as an operator would point at one)."""
    return ObjectRef("file", str(path.resolve()), path.stat().st_size, LogType.FLOWLOGS, "111122223333", "")


def reconciled(result: LoadResult) -> bool:
    return result.records_read == result.records_loaded + result.records_bad + result.records_expired


# -- own fixtures ---------------------------------------------------------------------------------


def test_default_format_records_read_as_written(loader: Loader, store: Store) -> None:
    # Act
    result = loader.load(file_ref(make.path(0)))
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        LOADED,
        7,
        7,
        0,
    )
    ssh_out, ssh_in = records(store, "local_port = 22")
    assert ssh_in == {
        "interface_id": make.ENI, "instance_id": "", "direction": "ingress", "local_address": "10.1.0.25",
        "remote_address": "198.51.100.7", "local_port": 22, "remote_port": 0, "protocol": 6, "packets": 12,
        "bytes": 2200, "start_time": datetime(2024, 6, 3, 10, 5), "end_time": datetime(2024, 6, 3, 10, 6),
        "action": "ACCEPT", "log_status": "OK",
        "line": "2 111122223333 eni-0f10a0000000000a1 198.51.100.7 10.1.0.25 50514 22 6 12 2200 1717409100 "
        "1717409160 ACCEPT OK",
    }  # fmt: skip
    assert (ssh_out["direction"], ssh_out["bytes"]) == ("egress", 5400)


def test_nodata_and_skipdata_are_kept_as_coverage(loader: Loader, store: Store) -> None:
    # Act
    loader.load(file_ref(make.path(0)))
    # Assert: kept as records without addresses, and counted per interface and hour
    kept = records(store, "log_status != 'OK'")
    assert [(r["interface_id"], r["log_status"], r["remote_address"], r["direction"]) for r in kept] == [
        ("eni-0f10a0000000000a2", "NODATA", "", ""),
        ("eni-0f10a0000000000a3", "SKIPDATA", "", ""),
    ]
    coverage = store.rows(
        "SELECT interface_id, sum(nodata), sum(skipdata) FROM flowlog_interface_hourly "
        "WHERE nodata + skipdata > 0 GROUP BY interface_id ORDER BY interface_id"
    )
    assert coverage == [("eni-0f10a0000000000a2", 1, 0), ("eni-0f10a0000000000a3", 0, 1)]


def test_a_custom_format_is_read_through_its_header(loader: Loader, store: Store) -> None:
    # Act
    result = loader.load(file_ref(make.path(1)))
    # Assert: other column order, instance-id and flow-direction taken from their columns
    assert (result.status, result.records_loaded) == (LOADED, 3)
    found = records(store)
    assert [
        (r["instance_id"], r["direction"], r["remote_address"], r["remote_port"], r["bytes"]) for r in found
    ] == [
        (make.INSTANCE, "egress", "10.1.7.7", 5432, 7000),
        (make.INSTANCE, "ingress", "10.1.7.7", 5432, 64000),
        (make.INSTANCE, "egress", "52.218.0.1", 443, 1500),
    ]
    mapped = store.rows("SELECT DISTINCT instance_id, interface_id, address, source FROM instance_interfaces")
    assert mapped == [(make.INSTANCE, make.ENI, "10.1.0.25", "flowlogs")]
    # Every field stays readable: the raw line with the header that names its fields.
    header = make.FILES[list(make.FILES)[1]].splitlines()[0]
    kept = store.rows("SELECT DISTINCT format FROM flowlog_records")
    assert kept == [(header,)]
    assert found[2]["line"].endswith("vpc-0f10a000000000001 S3 8")


def test_bad_lines_are_counted_with_their_line_numbers_and_the_rest_loads(
    loader: Loader, store: Store
) -> None:
    # Act
    result = loader.load(file_ref(make.path(2)))
    # Assert: lines 3 (too few fields) and 5 (not an address) rejected; 2, 4 and 6 loaded
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        PARTIAL,
        5,
        3,
        2,
    )
    assert rejects(store, result) == [(3, "expected 14 fields (header), found 11"), (5, "bad dstaddr")]
    assert sorted(r["bytes"] for r in records(store)) == [700, 700, 8800]
    assert reconciled(result)
    assert "2 bad lines" in result.message


def test_a_file_without_header_is_read_as_default_format(loader: Loader, store: Store) -> None:
    # Act
    result = loader.load(flow_ref(make.path(3)))
    # Assert
    assert (result.status, result.records_loaded) == (LOADED, 2)
    assert [r["direction"] for r in records(store)] == ["egress", "ingress"]


def test_a_bad_header_fails_the_object_and_says_why(loader: Loader, store: Store) -> None:
    # Act
    result = loader.load(file_ref(make.path(4)))
    # Assert
    assert result.status == FAILED
    assert "bad header" in result.message
    assert rejects(store, result) == [
        (1, "bad header: the header has no interface-id field: not a VPC flow log")
    ]
    assert records(store) == []


def test_a_format_without_start_takes_the_delivery_time_and_keeps_unknown_fields(
    loader: Loader, store: Store
) -> None:
    # Act
    result = loader.load(file_ref(make.path(5)))
    # Assert
    assert (result.status, result.records_loaded) == (PARTIAL, 1)  # PARTIAL: it notes the unknown field
    assert "future-field" in result.message
    row = store.rows("SELECT start_time, remote_port, format, line FROM flowlog_records")
    header = "interface-id srcaddr dstaddr dstport protocol action future-field"
    assert row == [
        (
            datetime(2024, 6, 3, 10, 25),
            443,
            header,
            "eni-0f10a0000000000a1 10.1.0.25 52.94.0.14 443 6 ACCEPT x1",
        )
    ]


def test_loading_again_changes_nothing(loader: Loader, store: Store) -> None:
    # Arrange
    refs = [file_ref(make.path(i)) for i in (0, 1, 2)]
    first = loader.load_many(refs)
    before = (records(store), store.rows("SELECT * FROM flowlog_remote_hourly FINAL ORDER BY ALL"))
    # Act: the same objects again (a redelivered message)
    again = loader.load_many(refs)
    # Assert
    assert (records(store), store.rows("SELECT * FROM flowlog_remote_hourly FINAL ORDER BY ALL")) == before
    assert [(r.records_loaded, r.records_bad) for r in again] == [
        (r.records_loaded, r.records_bad) for r in first
    ]


def test_one_flow_in_two_flow_logs_is_counted_once(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the default file delivered by a second flow log too (another name, same records)
    copy = tmp_path / make.path(0).name.replace("fl-0default000000001", "fl-0second000000009").replace(
        "aa01", "aa09"
    )
    copy.write_bytes(make.path(0).read_bytes() + b"")
    copy_text = copy.read_bytes()
    copy.write_bytes(copy_text[:-8] + copy_text[-8:])  # same bytes: caught as a duplicate object
    other = tmp_path / "other" / copy.name
    other.parent.mkdir()
    shutil.copy(make.path(0), other)
    # Act
    loader.load(file_ref(make.path(0)))
    duplicate = loader.load(flow_ref(other))
    # Assert: a byte-identical copy is a duplicate; bytes per interface are not doubled
    assert duplicate.status in ("duplicate", LOADED)
    total = store.scalar("SELECT sum(bytes) FROM flowlog_records FINAL")
    assert total == 2200 + 5400 + 3000 + 90000 + 40


def test_two_flow_logs_on_one_interface_do_not_double_its_traffic(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: the same flows in another custom format, from another flow log
    other = make.second_flow_log(tmp_path)
    # Act
    loader.load(file_ref(make.path(0)))
    loader.load(file_ref(other))
    # Assert: raw records collapse (same flow identity) and the rollup reads count one flow log
    assert store.scalar("SELECT count() FROM flowlog_records FINAL") == 7
    from api.flowlogs import reads

    start, end = datetime(2024, 6, 3, tzinfo=UTC), datetime(2024, 6, 4, tzinfo=UTC)
    [bucket] = reads.traffic(store, [make.ENI], start, end, 86400)
    assert (bucket.bytes_in, bucket.bytes_out) == (2200 + 90000 + 40, 5400 + 3000)


# -- third-party samples --------------------------------------------------------------------------

SAMPLES = {
    # file: (status, read, loaded, bad)
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-accepted-rejected.log": (
        LOADED,
        2,
        2,
        0,
    ),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-ipv6.log": (LOADED, 1, 1, 0),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-no-data.log": (
        LOADED,
        2,
        2,
        0,
    ),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-security-groups.log": (
        LOADED,
        2,
        2,
        0,
    ),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-tcp-flag.log": (
        LOADED,
        8,
        8,
        0,
    ),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-traffic-path.log": (
        LOADED,
        2,
        2,
        0,
    ),
    # Documentation snippets without start/end, outside the delivery layout: no time to file them under.
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-nat.log": (FAILED, 6, 0, 6),
    "awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-tgw.log": (FAILED, 4, 0, 4),
    "otel-collector-contrib/valid_vpc_flow_log.log": (LOADED, 1, 1, 0),
    "otel-collector-contrib/valid_vpc_flow_log_multi.log": (LOADED, 2, 2, 0),
    "otel-collector-contrib/valid_vpc_flow_log_ecs.log": (LOADED, 1, 1, 0),
    "otel-collector-contrib/valid_tgw_flow_log.log": (SKIPPED, 0, 0, 0),
    "panther-analysis/test_scenarios__compromised-root-creds__attacker_vpc.log": (LOADED, 6, 6, 0),
}


@pytest.mark.parametrize("name", sorted(SAMPLES), ids=lambda n: n.rsplit("/", 1)[-1][-40:])
def test_every_sample_format_variant(loader: Loader, store: Store, samples_dir: Path, name: str) -> None:
    # Act
    result = loader.load(flow_ref(samples_dir / "vpcflow" / name))
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == SAMPLES[name]
    assert reconciled(result)


def test_samples_without_start_load_inside_the_delivery_layout(
    loader: Loader, store: Store, samples_dir: Path, tmp_path: Path
) -> None:
    # Arrange: the NAT gateway example filed as S3 delivers it (its name gives the time)
    source = (
        samples_dir
        / "vpcflow/awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-nat.log"
    )
    folder = tmp_path / "AWSLogs/123456789010/vpcflowlogs/us-east-1/2024/06/03"
    folder.mkdir(parents=True)
    target = folder / "123456789010_vpcflowlogs_us-east-1_fl-0nat0000000000001_20240603T1000Z_ab12.log"
    shutil.copy(source, target)
    # Act
    result = loader.load(file_ref(target))
    # Assert: the instance's interface is tied to its instance; the NAT gateway's has no instance
    assert (result.status, result.records_loaded) == (LOADED, 6)
    owners = store.rows(
        "SELECT DISTINCT interface_id, instance_id FROM flowlog_records ORDER BY interface_id"
    )
    assert owners == [("eni-1111aaaa2222bbbb3", "i-01234567890123456"), ("eni-1235b8ca123456789", "")]


def test_sample_directions(loader: Loader, store: Store, samples_dir: Path) -> None:
    # Arrange
    base = (
        samples_dir / "vpcflow/awsdocs/amazon-vpc-user-guide__flow-logs-records-examples__flow-log-example-"
    )
    # Act
    for variant in ("accepted-rejected", "traffic-path", "tcp-flag"):
        loader.load(flow_ref(Path(f"{base}{variant}.log")))
    # Assert: the documentation's reading of each record
    found = {" ".join(str(r["line"]).split()[:9]): r["direction"] for r in records(store)}

    def direction(start: str) -> str:
        [value] = [d for line, d in found.items() if line.startswith(start)]
        return str(value)

    assert direction("2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22") == "ingress"
    assert direction("2 123456789010 eni-1235b8ca123456789 172.31.9.69 172.31.9.12 49761 3389") == "ingress"
    assert direction("5 52.95.128.179 10.0.0.71 80 34210") == "ingress"  # flow-direction field
    assert direction("5 10.0.0.71 52.95.128.179 34210 80") == "egress"
    tcp_flag = "3 vpc-abcdefab012345678 subnet-aaaaaaaa012345678 i-01234567890123456 eni-1235b8ca123456789"
    assert (
        direction(f"{tcp_flag} 123456789010 IPv4 52.213.180.42 10.0.0.62") == "ingress"
    )  # public to private


def test_lowering_the_retention_drops_old_flows_and_their_rollups(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: one flow from 400 days ago and one from yesterday, loaded under retention 0
    from clickhouse import tables
    from clickhouse.retention import apply_retention

    header = " ".join(make.FILES[next(iter(make.FILES))].splitlines()[0].split())
    lines = [header]
    for days in (400, 1):
        t = int((datetime.now(UTC) - timedelta(days=days)).timestamp())
        flow = f"2 111122223333 {make.ENI} 10.1.0.25 52.94.0.10 40000 443 6 1 100 {t} {t + 60} ACCEPT OK"
        lines.append(flow)
    path = tmp_path / "flows.log"
    path.write_text("\n".join(lines) + "\n")
    loader.load(flow_ref(path))
    flow_tables = [t for t in tables.RETAINED if t.startswith("flowlog_")]
    before = {t: store.scalar(f"SELECT count() FROM {t}") for t in flow_tables}
    # Act
    apply_retention(store, 30)
    try:
        for table in flow_tables:
            store.command(f"OPTIMIZE TABLE {table} FINAL")
        after = {t: store.scalar(f"SELECT count() FROM {t}") for t in flow_tables}
    finally:
        apply_retention(store, 0)
    # Assert: each table had a row per flow (or per hour) and kept only the recent one
    assert before == dict.fromkeys(flow_tables, 2)
    assert after == dict.fromkeys(flow_tables, 1)
