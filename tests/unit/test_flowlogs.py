"""The pure part of flow log parsing: formats from header lines, file names, chunks of lines."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from ingest.flowlogs import (
    ABSENT,
    DEFAULT_FIELDS,
    FIELD_VERSIONS,
    BadHeader,
    FlowFormat,
    TransitGatewayLog,
    file_name,
    line_chunks,
    read_format,
    split_first_line,
)
from ingest.sources import LogType, account_of, classify, region_of

DEFAULT_HEADER = b" ".join(name.encode() for name in DEFAULT_FIELDS)


def test_the_default_header_gives_the_default_fields() -> None:
    # Act
    fmt = read_format(DEFAULT_HEADER)
    # Assert
    assert (fmt.fields, fmt.has_header, fmt.version) == (DEFAULT_FIELDS, True, 2)


def test_a_custom_header_keeps_its_own_order_and_version() -> None:
    # Act
    fmt = read_format(b"instance-id interface-id flow-direction srcaddr dstaddr start log-status\r")
    # Assert: order as written, version = highest version among the fields (flow-direction: 5)
    assert fmt.fields == (
        "instance-id",
        "interface-id",
        "flow-direction",
        "srcaddr",
        "dstaddr",
        "start",
        "log-status",
    )
    assert fmt.version == 5
    positions = fmt.positions()
    at = dict(zip(FIELD_VERSIONS, positions["at"], strict=True))
    assert (at["instance-id"], at["srcaddr"], at["version"], positions["width"]) == (1, 4, ABSENT, 7)


def test_fields_unknown_to_this_version_are_kept_by_name() -> None:
    # Act
    fmt = read_format(b"interface-id srcaddr future-field start")
    # Assert
    assert fmt.unknown_fields == ("future-field",)
    assert fmt.positions()["format"] == "interface-id srcaddr future-field start"


def test_a_file_without_header_is_read_as_the_default_format() -> None:
    # Act
    fmt = read_format(b"2 111122223333 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1717409100 1717409160 ACCEPT OK")
    # Assert
    assert (fmt.fields, fmt.has_header) == (DEFAULT_FIELDS, False)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        pytest.param(b"this is not a flow log", "no interface-id", id="words"),
        pytest.param(b'{"Records": []}', "not a flow log header", id="json"),
        pytest.param(b"interface-id srcaddr srcaddr", "named twice", id="duplicate-field"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"2 111122223333 eni-1 10.0.0.1", "not a flow log header", id="short-headerless"),
        pytest.param(b"version account-id \xff", "not text", id="binary"),
    ],
)
def test_a_bad_first_line_fails_the_object(line: bytes, reason: str) -> None:
    # Act / Assert
    with pytest.raises(BadHeader, match=reason):
        read_format(line)


def test_a_transit_gateway_flow_log_is_recognised_not_parsed() -> None:
    # Act / Assert
    with pytest.raises(TransitGatewayLog):
        read_format(b"version account-id tgw-id tgw-attachment-id srcaddr dstaddr log-status")


def test_the_file_name_gives_the_flow_log_and_the_delivery_time() -> None:
    # Act
    found = file_name(
        "AWSLogs/111122223333/vpcflowlogs/eu-west-1/2024/06/03/"
        "111122223333_vpcflowlogs_eu-west-1_fl-0abc123_20240603T1005Z_aa01.log.gz"
    )
    # Assert
    assert (found.flow_log_id, found.delivered_at) == ("fl-0abc123", datetime(2024, 6, 3, 10, 5, tzinfo=UTC))
    assert file_name("/tmp/flows.log").flow_log_id == ""


def test_chunks_end_at_line_breaks_and_number_their_lines() -> None:
    # Arrange: a header and 100 lines of 20 bytes, delivered in odd pieces
    body = b"".join(b"line %015d\n" % n for n in range(1, 101))
    pieces = iter([DEFAULT_HEADER + b"\n" + body[:7], body[7:1234], body[1234:]])
    first, rest = split_first_line(pieces)
    # Act: chunks of at most about 200 bytes
    chunks = list(line_chunks(rest, pieces, 2, chunk_bytes=200))
    # Assert: every chunk is whole lines, numbered from line 2, nothing lost or repeated
    assert first == DEFAULT_HEADER
    assert all(c.data.endswith(b"\n") and len(c.data) <= 200 for c in chunks)
    assert b"".join(c.data for c in chunks) == body
    assert [c.first_line for c in chunks] == [
        2 + sum(c.lines for c in chunks[:i]) for i in range(len(chunks))
    ]
    assert sum(c.lines for c in chunks) == 100


def test_text_read_with_the_header_is_cut_into_chunks_too() -> None:
    # Arrange: all the text arrived with the first piece (a small gzip): nothing more to read
    body = b"".join(b"line %015d\n" % n for n in range(1, 101))
    # Act
    chunks = list(line_chunks(body, iter([]), 2, chunk_bytes=200))
    # Assert: chunks of whole lines of at most about 200 bytes, numbered, nothing lost
    assert len(chunks) == 12  # 9 lines of 21 bytes in each 200
    assert all(c.data.endswith(b"\n") and len(c.data) <= 200 for c in chunks)
    assert b"".join(c.data for c in chunks) == body
    assert [c.first_line for c in chunks] == [2 + 9 * i for i in range(12)]


def test_a_line_longer_than_a_chunk_is_kept_whole_and_quickly() -> None:
    # Arrange: 2 lines, a 40 MB line without a break in 64 KiB pieces, then 2 more lines
    huge = b"x" * (40 * 1024 * 1024)
    text = b"a 1\nb 2\n" + huge + b"\nc 3\nd 4\n"
    pieces = iter([text[i : i + 65536] for i in range(0, len(text), 65536)])
    started = time.perf_counter()
    # Act: chunks of about 1 MiB
    chunks = list(line_chunks(b"", pieces, 2, chunk_bytes=1024 * 1024))
    # Assert: nothing lost, every line numbered, and not quadratic in the line's length
    assert b"".join(c.data for c in chunks) == text
    assert [c.first_line for c in chunks] == [
        2 + sum(c.lines for c in chunks[:i]) for i in range(len(chunks))
    ]
    assert sum(c.lines for c in chunks) == 5
    assert time.perf_counter() - started < 2.0


def test_a_last_line_without_break_is_counted() -> None:
    # Act
    chunks = list(line_chunks(b"a\nb", iter([]), 1))
    # Assert
    assert [(c.first_line, c.lines, c.data) for c in chunks] == [(1, 2, b"a\nb")]


def test_a_format_lists_every_known_field_position() -> None:
    # Act
    positions = FlowFormat(DEFAULT_FIELDS, True).positions()
    # Assert: the view reads the known fields in FIELD_VERSIONS order
    assert positions["at"][: len(DEFAULT_FIELDS)] == list(range(1, len(DEFAULT_FIELDS) + 1))
    assert set(positions["at"][len(DEFAULT_FIELDS) :]) == {ABSENT}
    assert len(positions["at"]) == 40


def test_hive_compatible_prefixes_are_flow_logs_with_account_and_region() -> None:
    # Arrange: the "Hive-compatible S3 prefix" delivery option
    key = (
        "bucket/AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/"
        "year=2024/month=06/day=03/123456789012_vpcflowlogs_eu-west-1_fl-0abc_20240603T1005Z_aa01.log.gz"
    )
    # Act / Assert
    assert (classify(key), account_of(key), region_of(key)) == (LogType.FLOWLOGS, "123456789012", "eu-west-1")
