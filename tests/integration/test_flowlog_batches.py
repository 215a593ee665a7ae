"""Small flow log objects loaded together (one INSERT per format): the same answers as one by one.

A batch must keep every line's object and line number, each object's counts and status, and
never add a member's flows twice, whatever grouping a retry brings.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clickhouse.client import Store
from ingest import flowlog_load
from ingest.load import LOADED, PARTIAL, Loader, LoadResult
from ingest.sources import ObjectRef, file_ref
from tests.data.flowlogs import make
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
)
ENI = "eni-0b47c000000000001"


def flow_file(root: Path, minute: int, lines: list[str]) -> ObjectRef:
    """A default-format file of the delivery layout, delivered at 10:<minute>."""
    stamp = f"20240603T10{minute:02d}Z_{minute:04x}"
    name = f"{make.ACCOUNT}_vpcflowlogs_eu-west-1_fl-0batch00000000001_{stamp}.log.gz"
    path = root / make.PREFIX / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(("\n".join([HEADER, *lines]) + "\n").encode()))
    return file_ref(path)


def flow(minute: int, remote: str, size: int) -> str:
    start = 1717408800 + minute * 60
    return f"2 {make.ACCOUNT} {ENI} 10.9.0.5 {remote} 40000 443 6 3 {size} {start} {start + 60} ACCEPT OK"


def snapshot(store: Store) -> dict[str, Any]:
    """What a user can see of a load: records with their objects and line numbers, rejects, rollups."""
    return {
        "records": store.rows(
            "SELECT object_id, position, interface_id, remote_address, bytes, line "
            "FROM flowlog_records FINAL ORDER BY object_id, position"
        ),
        "rejects": store.rows("SELECT object_id, position, reason FROM ingest_rejects ORDER BY ALL"),
        "remote": store.rows(
            "SELECT interface_id, hour, remote_address, remote_port, flow_log_id, sum(flows), sum(bytes) "
            "FROM flowlog_remote_hourly GROUP BY ALL ORDER BY ALL"
        ),
        "interface": store.rows(
            "SELECT interface_id, hour, flow_log_id, sum(flows), sum(bytes_out), sum(bytes_in), sum(nodata) "
            "FROM flowlog_interface_hourly GROUP BY ALL ORDER BY ALL"
        ),
        "addresses": store.rows(
            "SELECT DISTINCT instance_id, interface_id, address, evidence FROM instance_interfaces "
            "ORDER BY ALL"
        ),
    }


def outcome(results: list[LoadResult]) -> list[tuple[Any, ...]]:
    return [
        (r.object_id, r.status, r.records_read, r.records_loaded, r.records_bad, r.first_event, r.last_event)
        for r in results
    ]


@pytest.fixture
def merges_stopped(store: Store) -> Iterator[None]:
    store.command("SYSTEM STOP MERGES flowlog_records")
    yield
    store.command("SYSTEM START MERGES flowlog_records")


def test_small_files_loaded_together_give_what_loading_each_alone_gives(
    loader: Loader, store: Store, tmp_path: Path, merges_stopped: None
) -> None:
    # Arrange: two default-format fixtures (one with bad lines 3 and 5), a custom format, and a
    # file of the default format with flows of another interface
    refs = [
        file_ref(make.path(0)),
        file_ref(make.path(1)),
        file_ref(make.path(2)),
        flow_file(tmp_path, 30, [flow(30, "198.51.100.20", 100), flow(31, "198.51.100.21", 200)]),
    ]
    alone = [loader.load(ref) for ref in refs]
    expected = snapshot(store)
    parts_alone = store.scalar("SELECT count() FROM system.parts WHERE active AND table = 'flowlog_records'")
    truncate_all(store)
    # Act
    together = loader.load_many(refs)
    # Assert: same records, line numbers, rejects, rollups and results; fewer INSERTs (parts)
    assert snapshot(store) == expected
    assert outcome(together) == outcome(alone)
    assert [r.status for r in together] == [LOADED, LOADED, PARTIAL, LOADED]
    parts_together = store.scalar(
        "SELECT count() FROM system.parts WHERE active AND table = 'flowlog_records'"
    )
    assert (parts_alone, parts_together) == (4, 2)


def test_a_bad_line_in_one_member_is_reported_with_its_own_line_number(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: three files of one format; the middle one has a bad third line (file line 4)
    first = flow_file(tmp_path, 1, [flow(1, "198.51.100.1", 10), flow(2, "198.51.100.2", 20)])
    middle = flow_file(
        tmp_path,
        6,
        [flow(6, "198.51.100.6", 60), flow(7, "198.51.100.7", 70), "2 bad line", flow(8, "x", 80)],
    )
    last = flow_file(tmp_path, 11, [flow(11, "198.51.100.11", 110)])
    # Act
    results = loader.load_many([first, middle, last])
    # Assert: each object's counts, and the middle one's rejects at its own line numbers
    assert [(r.status, r.records_read, r.records_loaded, r.records_bad) for r in results] == [
        (LOADED, 2, 2, 0),
        (PARTIAL, 4, 2, 2),
        (LOADED, 1, 1, 0),
    ]
    rejected = store.rows("SELECT position, reason FROM ingest_rejects ORDER BY position")
    assert rejected == [(4, "expected 14 fields (header), found 3"), (5, "bad dstaddr")]
    lines = store.rows(
        "SELECT position, bytes FROM flowlog_records FINAL WHERE remote_address = '198.51.100.11'"
    )
    assert lines == [(2, 110)]


def test_a_retry_grouped_differently_never_counts_a_flow_twice(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: three objects loaded together, then a retry that brings two of them with another
    refs = [flow_file(tmp_path, m, [flow(m, f"198.51.100.{m}", 1000 + m)]) for m in (1, 2, 3, 4)]
    loader.load_many(refs[:3])
    before = snapshot(store)
    # Act: a redelivered message grouped otherwise (objects 2 and 3 again, with object 4)
    again = loader.load_many([refs[2], refs[1], refs[3]])
    # Assert: objects 2 and 3 keep their figures; only object 4's flow is new
    assert [(r.status, r.records_loaded) for r in again] == [(LOADED, 1)] * 3
    after = snapshot(store)
    assert [row for row in after["remote"] if row not in before["remote"]] == [
        (ENI, row[1], "198.51.100.4", 443, "fl-0batch00000000001", 1, 1004) for row in after["remote"][3:]
    ]
    assert sum(row[6] for row in after["remote"]) == 1001 + 1002 + 1003 + 1004


def test_a_small_object_with_more_text_than_a_chunk_loads_every_line(store: Store, tmp_path: Path) -> None:
    # Arrange: 300 lines (about 36 KB of text, a few KB of gzip) and chunks of 4 KB, beside a small file
    lines = [flow(m % 50, f"198.51.100.{m % 200}", 1000 + m) for m in range(300)]
    big = flow_file(tmp_path, 40, lines)
    small = flow_file(tmp_path, 45, [flow(45, "198.51.100.45", 45)])
    loader = Loader(store, retention_days=0, flow_chunk_bytes=4096)
    # Act
    results = loader.load_many([big, small])
    # Assert: every line of both, with its own line number
    assert [(r.status, r.records_read, r.records_loaded) for r in results] == [
        (LOADED, 300, 300),
        (LOADED, 1, 1),
    ]
    positions = store.rows(
        "SELECT position FROM flowlog_records FINAL WHERE object_id = {id:String} ORDER BY position",
        {"id": loader.load_id(big)},
    )
    assert [int(p) for (p,) in positions] == list(range(2, 302))


def test_objects_of_two_formats_interleaved_stay_within_a_chunk_and_load_as_alone(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: files of two formats, alternating (a custom format puts the interface first), each
    # about 2 KB of text, with chunks of 4 KB: no INSERT and no text held may pass a chunk
    custom = "interface-id version account-id srcaddr dstaddr srcport dstport protocol packets bytes start"
    custom += " end action"
    refs = []
    for m in range(8):
        lines = [flow(m * 5 + k, f"198.51.100.{m * 5 + k}", 100 * m + k) for k in range(16)]
        if m % 2:
            lines = [" ".join([line.split()[2], *line.split()[:2], *line.split()[3:13]]) for line in lines]
        ref = flow_file(tmp_path, m * 5, lines)
        if m % 2:
            text = gzip.decompress(Path(ref.uri).read_bytes()).decode().replace(HEADER, custom, 1)
            Path(ref.uri).write_bytes(gzip.compress(text.encode()))
            ref = file_ref(Path(ref.uri))
        refs.append(ref)
    loader = Loader(store, retention_days=0, flow_chunk_bytes=4096)
    alone = [loader.load(ref) for ref in refs]
    expected = snapshot(store)
    truncate_all(store)
    sent: list[int] = []
    held: list[int] = []
    send, add = flowlog_load._send, flowlog_load._Batches.add

    def record_send(loader: Loader, comment: dict[str, Any], data: bytes, token: str) -> None:
        sent.append(len(data))
        send(loader, comment, data, token)

    def record_add(batches: Any, member: Any) -> None:
        add(batches, member)
        held.append(sum(batches._size(group) for group in batches.groups.values()))

    monkeypatch.setattr(flowlog_load, "_send", record_send)
    monkeypatch.setattr(flowlog_load._Batches, "add", record_add)
    # Act
    together = loader.load_many(refs)
    # Assert: the same records, rollups and results; fewer INSERTs than objects, none over a chunk
    assert snapshot(store) == expected
    assert outcome(together) == outcome(alone)
    assert 1 < len(sent) < len(refs)
    assert max(sent) <= 4096
    assert max(held) <= 4096


def test_an_insert_of_more_than_a_million_lines_keeps_every_lines_object_and_number(
    store: Store, tmp_path: Path
) -> None:
    # Arrange: two files of a short custom format, 600,000 lines each (about 60 bytes a line), that
    # go in one INSERT: more rows than ClickHouse puts in one block by default
    header = "interface-id srcaddr dstaddr start bytes"
    refs = []
    for minute in (10, 20):
        lines = (
            f"{ENI} 10.9.0.5 198.51.100.{k % 200} {1717408800 + minute * 60 + k % 60} {k}"
            for k in range(600_000)
        )
        stamp = f"20240603T10{minute}Z_{minute:04x}"
        name = f"{make.ACCOUNT}_vpcflowlogs_eu-west-1_fl-0batch00000000001_{stamp}.log.gz"
        path = tmp_path / make.PREFIX / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), compresslevel=1))
        refs.append(file_ref(path))
    loader = Loader(store, retention_days=0)
    # Act
    results = loader.load_many(refs)
    # Assert: each object's 600,000 lines at file lines 2 to 600,001, and their bytes
    assert [(r.status, r.records_read, r.records_loaded) for r in results] == [(LOADED, 600_000, 600_000)] * 2
    numbers = store.rows(
        "SELECT object_id, count(), uniqExact(position), min(position), max(position), sum(bytes) "
        "FROM flowlog_records GROUP BY object_id ORDER BY object_id"
    )
    expected = sorted(
        (loader.load_id(ref), 600_000, 600_000, 2, 600_001, sum(range(600_000))) for ref in refs
    )
    assert numbers == expected
