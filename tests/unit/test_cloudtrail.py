"""ingest.cloudtrail: finding record boundaries in every shape of CloudTrail file, without an engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.cloudtrail import (
    CLOUDTRAIL_DETAIL_TYPES,
    BadItem,
    Chunk,
    Shape,
    Skipped,
    TruncatedRecords,
    records_file_chunks,
    records_of,
    sniff,
    tolerant_chunks,
    tolerant_items,
)

# Characters that make JSON text hard to cut: quotes, braces, escapes, separators, non-ASCII.
TRICKY = st.text(alphabet='ab{}[],:"\\ \n\té€', max_size=40)


def record(n: int, **extra: Any) -> dict[str, Any]:
    """A CloudTrail record in S3 delivery key order (eventVersion first)."""
    value: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "accessKeyId": f"ASIAEXAMPLE{n:09d}"},
        "eventTime": "2024-03-05T10:00:00Z",
        "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject",
        "eventID": f"00000000-0000-4000-8000-{n:012d}",
        "recipientAccountId": "111122223333",
    }
    value.update(extra)
    return value


records_strategy = st.lists(
    st.builds(
        lambda n, text: record(n, requestParameters={"key": text, "nested": [{"eventVersion": text}]}),
        st.integers(0, 10**9),
        TRICKY,
    ),
    max_size=12,
)


def records_file(records: list[dict[str, Any]], *, indent: int | None = None) -> bytes:
    separators = (",", ":") if indent is None else None
    return json.dumps({"Records": records}, indent=indent, separators=separators, ensure_ascii=False).encode()


def pieces_of(data: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def decode_chunks(chunks: list[bytes]) -> list[Any]:
    """Chunks are comma-separated JSON objects (the JSONAsString input): each parses inside [ ]."""
    found: list[Any] = []
    for chunk in chunks:
        found.extend(json.loads(b"[" + chunk + b"]"))
    return found


# -- sniff ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "shape"),
    [
        pytest.param(b"", Shape.EMPTY, id="empty"),
        pytest.param(b" \n\t ", Shape.EMPTY, id="whitespace"),
        pytest.param(b'{"Records":[{"eventVersion":"1.09"', Shape.RECORDS_FILE, id="s3-trail-file"),
        pytest.param(b'\n{\n  "Records" : [\n    {', Shape.RECORDS_FILE, id="pretty-trail-file"),
        pytest.param(b'[{"eventVersion":"1.09"', Shape.JSON, id="json-array"),
        pytest.param(b'{"eventVersion":"1.09"}\n{"eventVersion"', Shape.JSON, id="json-lines"),
        pytest.param(
            b'{"version":"0","detail-type":"AWS API Call via CloudTrail"', Shape.JSON, id="eventbridge"
        ),
        pytest.param(
            b'{"awsAccountId":"111122223333","digestStartTime":"2024-03-05T10:00:00Z","logFiles":[]}',
            Shape.DIGEST,
            id="digest",
        ),
        pytest.param(b"version account-id interface-id srcaddr", Shape.NOT_JSON, id="vpc-flow-log"),
        pytest.param(b"<?xml version", Shape.NOT_JSON, id="xml"),
    ],
)
def test_sniff_tells_the_shape_from_the_first_bytes(head: bytes, shape: Shape) -> None:
    # Arrange: parameters
    # Act
    found = sniff(head)
    # Assert
    assert found is shape


# -- records_file_chunks: the fast path ------------------------------------------------------------


@settings(max_examples=60, deadline=None, database=None)
@given(
    records=records_strategy,
    indent=st.sampled_from([None, 2]),
    piece_size=st.integers(1, 200),
    chunk_bytes=st.integers(1, 600),
)
def test_chunks_reassemble_to_exactly_the_original_records(
    records: list[dict[str, Any]], indent: int | None, piece_size: int, chunk_bytes: int
) -> None:
    # Arrange: a trail file (compact as S3 delivers it, or pretty-printed) read in small pieces
    data = records_file(records, indent=indent)
    # Act
    chunks = list(records_file_chunks(pieces_of(data, piece_size), chunk_bytes))
    # Assert: every chunk is whole records, and together they are all the records, in order
    assert decode_chunks(chunks) == records


@settings(max_examples=60, deadline=None, database=None)
@given(records=records_strategy, piece_size=st.integers(1, 200), chunk_bytes=st.integers(1, 600))
def test_no_chunk_is_larger_than_chunk_bytes_plus_one_record(
    records: list[dict[str, Any]], piece_size: int, chunk_bytes: int
) -> None:
    # Arrange
    data = records_file(records)
    longest = max(
        (len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode()) for r in records), default=0
    )
    # Act
    sizes = [len(chunk) for chunk in records_file_chunks(pieces_of(data, piece_size), chunk_bytes)]
    # Assert
    assert all(size <= chunk_bytes + longest + 1 for size in sizes)


def test_chunks_are_cut_before_the_whole_file_is_read() -> None:
    # Arrange: 200 records read in 1 KiB pieces, counting the pieces handed over
    data = records_file([record(n) for n in range(200)])
    consumed = 0

    def counted() -> Iterator[bytes]:
        nonlocal consumed
        for piece in pieces_of(data, 1024):
            consumed += 1
            yield piece

    # Act
    first = next(records_file_chunks(counted(), chunk_bytes=4096))
    # Assert: the first chunk came out after about chunk_bytes of input, not after the whole file
    assert len(first) <= 4096
    assert consumed <= 6 < len(data) // 1024


def test_a_record_longer_than_chunk_bytes_is_a_chunk_of_its_own() -> None:
    # Arrange: one huge record between two small ones
    records = [record(1), record(2, requestParameters={"policy": "x" * 5000}), record(3)]
    # Act
    chunks = list(records_file_chunks([records_file(records)], chunk_bytes=1000))
    # Assert
    assert [decode_chunks([c]) for c in chunks] == [[records[0]], [records[1]], [records[2]]]


def test_an_empty_records_array_yields_no_chunk() -> None:
    # Arrange
    data = b'{"Records":[]}'
    # Act
    chunks = list(records_file_chunks([data]))
    # Assert
    assert chunks == []


def test_a_truncated_records_file_raises_with_the_unread_tail() -> None:
    # Arrange: ten records, the file cut in the middle of the last one
    records = [record(n) for n in range(10)]
    data = records_file(records)
    cut = data[: data.rindex(b'"eventName"')]
    chunks: list[bytes] = []
    # Act
    with pytest.raises(TruncatedRecords) as raised:
        chunks.extend(records_file_chunks(pieces_of(cut, 100), chunk_bytes=300))
    # Assert: the whole records came out, and the tail holds everything after them
    tail = raised.value.args[0]
    assert decode_chunks(chunks) == records[: len(decode_chunks(chunks))]
    assert b",".join([*chunks, tail]) == cut[len(b'{"Records":[') :]
    assert tail.startswith(b'{"eventVersion"')


def test_a_file_that_is_not_a_records_file_is_refused() -> None:
    # Arrange: JSON lines, more than the sniffing window
    data = b"\n".join(json.dumps(record(n)).encode() for n in range(400))
    # Act / Assert
    with pytest.raises(ValueError, match="not a CloudTrail Records file"):
        list(records_file_chunks(pieces_of(data, 4096)))


# -- tolerant_items: every other shape -------------------------------------------------------------


THREE = [record(1), record(2), record(3)]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(json.dumps(THREE).encode(), id="json-array"),
        pytest.param(json.dumps(THREE, indent=4).encode(), id="pretty-array"),
        pytest.param(b"\n".join(json.dumps(r).encode() for r in THREE) + b"\n", id="json-lines"),
        pytest.param(b"\r\n".join(json.dumps(r).encode() for r in THREE), id="crlf-lines"),
        pytest.param(b",".join(json.dumps(r).encode() for r in THREE), id="comma-separated"),
        pytest.param(b"\n\n" + json.dumps(THREE, indent=1).encode() + b"\n\n", id="padded-array"),
    ],
)
def test_tolerant_items_decodes_every_shape_to_the_same_records(data: bytes) -> None:
    # Arrange: parameters
    # Act
    items = list(tolerant_items(data))
    # Assert
    assert items == THREE


def test_a_broken_record_in_the_middle_loses_only_itself() -> None:
    # Arrange: the second of three records has a syntax error
    broken = b'{"eventVersion":"1.09","eventID":"broken" "eventName":"GetObject"}'
    data = (
        b"["
        + json.dumps(record(1)).encode()
        + b",\n"
        + broken
        + b",\n"
        + json.dumps(record(3)).encode()
        + b"]"
    )
    # Act
    items = list(tolerant_items(data))
    # Assert
    assert items[0] == record(1)
    assert isinstance(items[1], BadItem)
    assert (items[1].position, items[1].reason.startswith("not valid JSON")) == (1, True)
    assert items[1].excerpt.startswith(broken.decode())
    assert items[2] == record(3)


def test_a_truncated_last_record_is_reported_with_its_text() -> None:
    # Arrange: JSON lines whose last line was cut off
    whole = [json.dumps(record(n)).encode() for n in range(3)]
    data = b"\n".join([*whole[:2], whole[2][:60]])
    # Act
    items = list(tolerant_items(data))
    # Assert
    assert items[:2] == [record(0), record(1)]
    assert items[2:] == [BadItem(2, "truncated record", whole[2][:60].decode())]


def test_a_complete_record_with_a_syntax_error_is_not_called_truncated() -> None:
    # Arrange: a whole single-record file missing a comma, as in AWS documentation examples
    data = b'{"eventVersion":"1.08","eventID":"e1" "eventName":"AssumeRoleWithSAML","eventTime":"2024-03-05"}'
    # Act
    items = list(tolerant_items(data))
    # Assert
    assert len(items) == 1
    assert isinstance(items[0], BadItem)
    assert items[0].reason.startswith("not valid JSON")


def test_tolerant_items_of_an_empty_array_yields_nothing() -> None:
    # Arrange
    data = b" [ ] \n"
    # Act
    items = list(tolerant_items(data))
    # Assert
    assert items == []


# -- records_of: wrappers and envelopes ----------------------------------------------------------


def envelope(detail_type: str, detail: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": "aws.sts",
        "account": "111122223333",
        "time": "2024-03-05T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


@pytest.mark.parametrize("detail_type", sorted(CLOUDTRAIL_DETAIL_TYPES))
def test_eventbridge_envelopes_of_cloudtrail_give_their_record(detail_type: str) -> None:
    # Arrange
    value = envelope(detail_type, record(7))
    # Act
    found = list(records_of(value, 0))
    # Assert
    assert found == [record(7)]


def test_a_guardduty_finding_envelope_is_skipped_not_bad() -> None:
    # Arrange
    value = envelope(
        "GuardDuty Finding", {"schemaVersion": "2.0", "severity": 8, "type": "Recon:EC2/PortProbe"}
    )
    # Act
    found = list(records_of(value, 4))
    # Assert
    assert found == [Skipped(4, "guardduty-finding")]


def test_an_envelope_of_another_kind_is_skipped_with_its_detail_type() -> None:
    # Arrange
    value = envelope("EC2 Instance State-change Notification", {"state": "running"})
    # Act
    found = list(records_of(value, 0))
    # Assert
    assert found == [Skipped(0, "eventbridge: EC2 Instance State-change Notification")]


def test_a_bare_guardduty_finding_is_skipped() -> None:
    # Arrange: a finding as GuardDuty exports it to S3
    value = {"schemaVersion": "2.0", "accountId": "111122223333", "resource": {}, "severity": 5, "type": "x"}
    # Act
    found = list(records_of(value, 2))
    # Assert
    assert found == [Skipped(2, "guardduty-finding")]


def test_a_records_wrapper_inside_json_lines_gives_its_records() -> None:
    # Arrange: one line per delivered file, as `zcat *.json.gz > all.jsonl` makes
    value = {"Records": [record(1), record(2)]}
    # Act
    found = list(records_of(value, 0))
    # Assert
    assert found == [record(1), record(2)]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        pytest.param(42, "not a JSON object", id="number"),
        pytest.param("text", "not a JSON object", id="string"),
        pytest.param(
            {"hello": "world"}, "not a CloudTrail record: no eventID or eventName", id="other-object"
        ),
    ],
)
def test_values_that_are_not_records_are_bad(value: Any, reason: str) -> None:
    # Arrange: parameters
    # Act
    found = list(records_of(value, 9))
    # Assert
    assert len(found) == 1
    assert isinstance(found[0], BadItem)
    assert (found[0].position, found[0].reason) == (9, reason)


# -- tolerant_chunks ------------------------------------------------------------------------------


def test_tolerant_chunks_carry_records_bad_items_and_skipped_items() -> None:
    # Arrange: an EventBridge export with a CloudTrail event, a finding and a broken line
    lines = [
        json.dumps(envelope("AWS API Call via CloudTrail", record(1))).encode(),
        json.dumps(envelope("GuardDuty Finding", {"severity": 2})).encode(),
        b'{"eventVersion":"1.09","eventID":"x" oops}',
        json.dumps(record(3)).encode(),
    ]
    # Act
    chunks = list(tolerant_chunks(b"\n".join(lines), first_index=5))
    # Assert
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.index == 5
    assert decode_chunks([chunk.data]) == [record(1), record(3)]
    assert chunk.skipped == (Skipped(1, "guardduty-finding"),)
    assert [(b.position, b.reason.startswith("not valid JSON")) for b in chunk.bad] == [(2, True)]


@settings(max_examples=40, deadline=None, database=None)
@given(records=records_strategy, chunk_bytes=st.integers(1, 800))
def test_tolerant_chunks_split_by_size_and_keep_every_record(
    records: list[dict[str, Any]], chunk_bytes: int
) -> None:
    # Arrange: a JSON array export
    data = json.dumps(records, ensure_ascii=False).encode()
    # Act
    chunks: list[Chunk] = list(tolerant_chunks(data, first_index=3, chunk_bytes=chunk_bytes))
    # Assert: indexes count up from first_index, and the records are all there, in order
    assert [c.index for c in chunks] == list(range(3, 3 + len(chunks)))
    assert decode_chunks([c.data for c in chunks if c.data]) == records
