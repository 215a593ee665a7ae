"""ingest.sources: telling log objects apart by their AWS delivery path, walking folders, reading bytes."""

from __future__ import annotations

import gzip
import os
import random
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import sources
from ingest.sources import ByteStream, CorruptObject, LogType, account_of, classify, region_of, walk

ACCOUNT = "111122223333"
TRAIL_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail/eu-west-1/2024/03/05/"
    f"{ACCOUNT}_CloudTrail_eu-west-1_20240305T1010Z_Kd81.json.gz"
)
ORG_TRAIL_KEY = (
    f"AWSLogs/o-exampleorg1/{ACCOUNT}/CloudTrail/ap-southeast-2/2024/03/05/"
    f"{ACCOUNT}_CloudTrail_ap-southeast-2_20240305T1015Z_Hy5r.json.gz"
)
DIGEST_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/eu-west-1/2024/03/05/"
    f"{ACCOUNT}_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240305T110000Z.json.gz"
)
INSIGHT_KEY = (
    f"AWSLogs/{ACCOUNT}/CloudTrail-Insight/eu-west-1/2024/03/05/"
    f"{ACCOUNT}_CloudTrail-Insight_eu-west-1_20240305T1010Z_Mx2e.json.gz"
)
FLOW_KEY = (
    f"AWSLogs/{ACCOUNT}/vpcflowlogs/us-gov-west-1/2024/03/05/"
    f"{ACCOUNT}_vpcflowlogs_us-gov-west-1_fl-0a1b2c3d_20240305T1000Z_5f3c2a1b.log.gz"
)
GUARDDUTY_KEY = (
    f"AWSLogs/{ACCOUNT}/GuardDuty/eu-central-1/2024/03/05/0b7c2f1e-8d4a-4c1b-9a52-1f0e4d3c2b1a.jsonl.gz"
)


# -- classify ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        pytest.param(TRAIL_KEY, LogType.CLOUDTRAIL, id="account-trail"),
        pytest.param(ORG_TRAIL_KEY, LogType.CLOUDTRAIL, id="organisation-trail"),
        pytest.param("/srv/case-42/" + TRAIL_KEY, LogType.CLOUDTRAIL, id="absolute-path"),
        pytest.param(DIGEST_KEY, LogType.CLOUDTRAIL_DIGEST, id="digest"),
        pytest.param(INSIGHT_KEY, LogType.CLOUDTRAIL_INSIGHT, id="insight"),
        pytest.param(FLOW_KEY, LogType.FLOWLOGS, id="vpc-flow-logs"),
        pytest.param(GUARDDUTY_KEY, LogType.GUARDDUTY, id="guardduty-export"),
        pytest.param("exports/lookup-events.json", LogType.CLOUDTRAIL, id="plain-json-export"),
        pytest.param("exports/EVENTS.JSON.GZ", LogType.CLOUDTRAIL, id="upper-case-suffix"),
        pytest.param("exports/eventbridge.jsonl", LogType.CLOUDTRAIL, id="json-lines"),
        pytest.param("exports/lake.ndjson.gz", LogType.CLOUDTRAIL, id="ndjson-gz"),
        pytest.param("exports/notes.txt", LogType.UNSUPPORTED, id="text"),
        pytest.param(TRAIL_KEY + ".tmp", LogType.UNSUPPORTED, id="partial-download"),
    ],
)
def test_classify_tells_the_log_type_from_the_delivery_path(key: str, expected: LogType) -> None:
    # Arrange: an object key as AWS (or an export) names it
    # Act
    found = classify(key)
    # Assert
    assert found is expected


def test_classify_uses_the_file_name_when_the_folder_layout_is_lost() -> None:
    # Arrange: a digest file copied out of its CloudTrail-Digest folder
    key = f"evidence/{ACCOUNT}_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240305T110000Z.json.gz"
    # Act
    found = classify(key)
    # Assert
    assert found is LogType.CLOUDTRAIL_DIGEST


def test_classify_ignores_folders_above_the_awslogs_layout() -> None:
    # Arrange: an investigator keeps the logs for a GuardDuty-triggered case under a folder of that name
    key = "/home/analyst/cases/GuardDuty/" + TRAIL_KEY
    # Act
    found = classify(key)
    # Assert
    assert found is LogType.CLOUDTRAIL


# -- account_of / region_of ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "account", "region"),
    [
        pytest.param(TRAIL_KEY, ACCOUNT, "eu-west-1", id="account-trail"),
        pytest.param(ORG_TRAIL_KEY, ACCOUNT, "ap-southeast-2", id="organisation-trail"),
        pytest.param(FLOW_KEY, ACCOUNT, "us-gov-west-1", id="vpc-flow-logs"),
        pytest.param(GUARDDUTY_KEY, ACCOUNT, "eu-central-1", id="guardduty"),
        pytest.param("exports/lookup-events.json", "", "", id="no-layout"),
        pytest.param("AWSLogs/12345/CloudTrail/eu-west-1/x.json", "", "eu-west-1", id="short-account-id"),
    ],
)
def test_account_and_region_come_from_the_delivery_path(key: str, account: str, region: str) -> None:
    # Arrange: parameters
    # Act
    found = (account_of(key), region_of(key))
    # Assert
    assert found == (account, region)


# -- walk ----------------------------------------------------------------------------------------


def _touch(path: Path, data: bytes = b"{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_walk_lists_files_in_a_stable_sorted_order(tmp_path: Path) -> None:
    # Arrange: files created out of order, in nested folders
    for rel in ("b/2.json", "a/z.json", "b/1.json", "top.json", "a/sub/x.json", "a/m.json"):
        _touch(tmp_path / rel)
    # Act
    found = [Path(ref.uri).relative_to(tmp_path).as_posix() for ref in walk(tmp_path)]
    # Assert: a folder's own files first (sorted), then its subfolders (sorted), depth first
    assert found == ["top.json", "a/m.json", "a/z.json", "a/sub/x.json", "b/1.json", "b/2.json"]


def test_walk_skips_hidden_files_and_folders(tmp_path: Path) -> None:
    # Arrange: editor and OS litter beside a real log file
    _touch(tmp_path / "events.json")
    _touch(tmp_path / ".DS_Store")
    _touch(tmp_path / ".git" / "config.json")
    _touch(tmp_path / "logs" / ".events.json.swp")
    # Act
    found = [Path(ref.uri).name for ref in walk(tmp_path)]
    # Assert
    assert found == ["events.json"]


def test_walk_of_a_file_yields_that_file_with_its_classification(tmp_path: Path) -> None:
    # Arrange
    path = _touch(tmp_path / ORG_TRAIL_KEY, b"x" * 42)
    # Act
    refs = list(walk(path))
    # Assert
    assert [(r.source, r.uri, r.size, r.log_type, r.account_id, r.region) for r in refs] == [
        ("file", str(path.resolve()), 42, LogType.CLOUDTRAIL, ACCOUNT, "ap-southeast-2")
    ]


def test_object_id_is_stable_and_differs_per_path(tmp_path: Path) -> None:
    # Arrange: two copies of the same bytes at two paths
    first = _touch(tmp_path / "a" / "x.json")
    second = _touch(tmp_path / "b" / "x.json")
    # Act
    ids = [ref.object_id for ref in (*walk(first), *walk(second), *walk(first))]
    # Assert
    assert ids[0] == ids[2]
    assert ids[0] != ids[1]


# -- ByteStream ----------------------------------------------------------------------------------


def _read_all(path: Path) -> tuple[bytes, ByteStream]:
    stream = ByteStream(path)
    return b"".join(stream.pieces()), stream


def _read_until_error(stream: ByteStream, into: list[bytes]) -> None:
    """Collect the pieces into `into` until the stream raises."""
    into.extend(stream.pieces())


def test_bytestream_passes_plain_bytes_through_and_counts_them(tmp_path: Path) -> None:
    # Arrange
    data = b'{"Records":[]}\n' * 1000
    path = _touch(tmp_path / "plain.json", data)
    # Act
    out, stream = _read_all(path)
    # Assert
    assert (out, stream.compressed, stream.bytes_read) == (data, False, len(data))


def test_bytestream_gunzips_and_counts_the_stored_bytes(tmp_path: Path) -> None:
    # Arrange
    data = os.urandom(3000).hex().encode()
    stored = gzip.compress(data)
    path = _touch(tmp_path / "x.json.gz", stored)
    # Act
    out, stream = _read_all(path)
    # Assert: the count is of stored bytes
    assert (out, stream.compressed, stream.bytes_read) == (data, True, len(stored))


@settings(max_examples=30, deadline=None, database=None)
@given(
    parts=st.lists(st.binary(max_size=300), min_size=1, max_size=5),
    read_bytes=st.integers(min_value=2, max_value=97),
)
def test_bytestream_reads_concatenated_gzip_members_as_one_stream(
    tmp_path_factory: pytest.TempPathFactory, parts: list[bytes], read_bytes: int
) -> None:
    # Arrange: members as `cat a.gz b.gz` makes them, read in pieces that cut members anywhere
    path = tmp_path_factory.mktemp("gz") / "members.json.gz"
    path.write_bytes(b"".join(gzip.compress(part) for part in parts))
    mp = pytest.MonkeyPatch()
    mp.setattr(sources, "READ_BYTES", read_bytes)
    try:
        # Act
        out, _stream = _read_all(path)
    finally:
        mp.undo()
    # Assert
    assert out == b"".join(parts)


def test_bytestream_reports_a_truncated_gzip_after_yielding_what_it_could(tmp_path: Path) -> None:
    # Arrange: the second half of the stored object is missing
    data = os.urandom(20_000).hex().encode()
    stored = gzip.compress(data)
    path = _touch(tmp_path / "cut.json.gz", stored[: len(stored) // 2])
    pieces: list[bytes] = []
    # Act
    with pytest.raises(CorruptObject, match="ends early"):
        _read_until_error(ByteStream(path), pieces)
    # Assert: what came out is a true prefix of the original
    assert data.startswith(b"".join(pieces))


def test_bytestream_reports_a_corrupt_gzip(tmp_path: Path) -> None:
    # Arrange: a gzip header followed by bytes that are no deflate stream
    path = _touch(tmp_path / "bad.json.gz", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 64)
    # Act / Assert
    with pytest.raises(CorruptObject, match="corrupt gzip"):
        _read_all(path)


def test_bytestream_reports_garbage_after_the_last_member(tmp_path: Path) -> None:
    # Arrange
    path = _touch(tmp_path / "tail.json.gz", gzip.compress(b'{"Records":[]}') + b"not gzip at all")
    # Act / Assert
    with pytest.raises(CorruptObject):
        _read_all(path)


def _damaged_in_the_middle(intact: bytes) -> bytes:
    """A gzip member whose deflate stream holds `intact`, then breaks (an invalid block type)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    good = compressor.compress(intact) + compressor.flush(zlib.Z_FULL_FLUSH)
    return good + b"\xff" * 16


def test_bytestream_yields_the_bytes_before_damage_in_a_large_file(tmp_path: Path) -> None:
    # Arrange: 1 MB of readable data (about 550 KB stored), then a broken deflate block
    intact = random.Random(1).randbytes(500_000).hex().encode()
    path = _touch(tmp_path / "damaged.json.gz", _damaged_in_the_middle(intact))
    pieces: list[bytes] = []
    # Act
    with pytest.raises(CorruptObject):
        _read_until_error(ByteStream(path), pieces)
    # Assert: most of the readable data came out before the error (and nothing else)
    out = b"".join(pieces)
    assert intact.startswith(out)
    assert len(out) >= len(intact) - 256 * 1024


def test_bytestream_yields_the_bytes_before_damage_in_a_small_file(tmp_path: Path) -> None:
    # Arrange: 200 KB of repetitive JSON-like text (a few KB stored), then a broken deflate block
    intact = b",".join(b'{"eventVersion":"1.09","eventID":"%06d"}' % n for n in range(5000))
    path = _touch(tmp_path / "damaged.json.gz", _damaged_in_the_middle(intact))
    pieces: list[bytes] = []
    # Act
    with pytest.raises(CorruptObject):
        _read_until_error(ByteStream(path), pieces)
    # Assert: most of the readable data came out before the error
    out = b"".join(pieces)
    assert intact.startswith(out)
    assert len(out) >= len(intact) // 2
