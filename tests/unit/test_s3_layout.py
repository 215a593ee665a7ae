"""Pure parts of the S3 source: URIs, delivery-layout stages, months of a backfill, gaps, sources."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from api.health.reads import Gap, missing_hours
from ingest.backfill import months, part_name, retention_warning
from ingest.s3 import _stage, ref_of, split_uri
from ingest.sources import LogType
from ingest.sourcesconfig import SourceError, parse_source

H0 = datetime(2024, 5, 1, tzinfo=UTC)


def _hours(*offsets: int) -> set[datetime]:
    return {H0 + timedelta(hours=o) for o in offsets}


@pytest.mark.parametrize(
    ("prefix", "stage"),
    [
        ("", "above"),
        ("exports/", "above"),
        ("AWSLogs/", "accounts"),
        ("AWSLogs/o-a1b2c3/", "accounts"),
        ("AWSLogs/o-a1b2c3/111111111111/", "services"),
        ("logs/AWSLogs/111111111111/", "services"),
        ("AWSLogs/111111111111/CloudTrail/", "regions"),
        ("AWSLogs/o-a1b2c3/111111111111/CloudTrail/us-east-1/", "stream"),
        ("AWSLogs/111111111111/vpcflowlogs/eu-west-1/2024/05/", "stream"),
    ],
)
def test_a_prefix_is_placed_in_the_delivery_layout(prefix: str, stage: str) -> None:
    # Act / Assert
    assert _stage(prefix) == stage


def test_an_s3_ref_carries_account_region_and_log_type_from_the_key() -> None:
    # Arrange
    key = "AWSLogs/o-a1b2c3/111111111111/CloudTrail/eu-west-1/2024/05/01/111111111111_CloudTrail_x.json.gz"
    # Act
    ref = ref_of("trail", key, 10)
    # Assert
    assert (ref.source, ref.uri, ref.log_type) == ("s3", f"s3://trail/{key}", LogType.CLOUDTRAIL)
    assert (ref.account_id, ref.region) == ("111111111111", "eu-west-1")
    assert split_uri(ref.uri) == ("trail", key)


@pytest.mark.parametrize("uri", ["trail/key", "s3://", "s3:///key", "/tmp/x"])
def test_a_uri_that_is_not_s3_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="not an s3://bucket/key URI"):
        split_uri(uri)


def test_a_backfill_range_is_cut_at_month_boundaries() -> None:
    # Act
    cut = list(months(date(2024, 1, 30), date(2024, 3, 2)))
    # Assert
    assert cut == [
        (date(2024, 1, 30), date(2024, 1, 31)),
        (date(2024, 2, 1), date(2024, 2, 29)),
        (date(2024, 3, 1), date(2024, 3, 2)),
    ]
    assert part_name("s/", *cut[1]) == "s/2024/02/01..2024/02/29"


def test_a_backfill_inside_the_retention_has_no_warning() -> None:
    # Act / Assert
    assert retention_warning(date(2024, 5, 1), 365, date(2024, 6, 1)) == (None, "")
    assert retention_warning(date(2000, 1, 1), 0, date(2024, 6, 1)) == (None, "")


def test_a_backfill_past_the_retention_names_the_first_day_kept() -> None:
    # Act
    cutoff, warning = retention_warning(date(2024, 1, 1), 30, date(2024, 6, 1))
    # Assert
    assert cutoff == date(2024, 5, 2)
    assert "days before 2024-05-02 are not loaded" in warning


def test_hours_without_delivery_in_a_regular_stream_are_gaps() -> None:
    # Arrange: hourly deliveries for 10 hours, none at hours 4-5, stopped after 9
    delivered = _hours(0, 1, 2, 3, 6, 7, 8, 9)
    # Act
    gaps = list(missing_hours(delivered, H0 + timedelta(hours=13)))
    # Assert
    assert gaps == [
        Gap(H0 + timedelta(hours=4), H0 + timedelta(hours=6)),
        Gap(H0 + timedelta(hours=10), H0 + timedelta(hours=13)),
    ]
    assert [g.hours for g in gaps] == [2, 3]


def test_a_stream_that_rarely_delivers_has_no_gaps() -> None:
    # Arrange: 3 deliveries over 20 hours (a quiet region, not a broken trail)
    # Act / Assert
    assert list(missing_hours(_hours(0, 10, 19), H0 + timedelta(hours=30))) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"bucket": "b-ok"}, "name must be"),
        ({"name": "x", "bucket": "No_Such"}, "bucket must be"),
        ({"name": "x", "bucket": "trail", "poll": False}, "queue_url is needed"),
        ({"name": "x", "bucket": "trail", "poll_interval_seconds": 0}, "between 1 and 86400"),
        ({"name": "x", "bucket": "trail", "colour": "red"}, "unknown source fields: colour"),
    ],
)
def test_an_unusable_source_is_refused_with_a_reason(data: dict[str, object], message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_source(data)
