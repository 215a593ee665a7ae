"""ingest.guardduty: findings from every shape they arrive in, without an engine."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from api.guardduty.types import severity_label
from ingest.cloudtrail import BadItem, Skipped
from ingest.guardduty import Finding, findings_of, looks_like_findings, parse_time


def sample_files(samples_dir: Path) -> list[Path]:
    files = sorted((samples_dir / "guardduty").rglob("*.json"))
    assert files, "no GuardDuty samples found"
    return files


def parse(data: bytes) -> list[Finding | BadItem | Skipped]:
    return list(findings_of(iter([data])))


def finding(**changes: Any) -> dict[str, Any]:
    value: dict[str, Any] = {
        "schemaVersion": "2.0",
        "accountId": "111122223333",
        "region": "eu-west-1",
        "id": "f00d",
        "type": "Recon:IAMUser/MaliciousIPCaller",
        "severity": 5,
        "createdAt": "2024-03-05T10:00:00.000Z",
        "updatedAt": "2024-03-05T11:00:00.000Z",
        "resource": {"resourceType": "AccessKey", "accessKeyDetails": {"accessKeyId": "ASIAEXAMPLE"}},
        "service": {
            "count": 2,
            "eventFirstSeen": "2024-03-05T09:58:00Z",
            "eventLastSeen": "2024-03-05T10:30:00Z",
        },
    }
    value.update(changes)
    return value


def test_every_sample_finding_parses(samples_dir: Path) -> None:
    for path in sample_files(samples_dir):
        # Arrange
        data = path.read_bytes()
        expected = orjson.loads(data)
        count = len(expected) if isinstance(expected, list) else 1
        # Act
        items = parse(data)
        # Assert: every finding of every file, none bad, each recognised by content
        assert len(items) == count, path.name
        assert all(isinstance(item, Finding) for item in items), (path.name, items)
        assert looks_like_findings(data), path.name


def test_sample_fields_are_read_as_aws_writes_them(samples_dir: Path) -> None:
    # Arrange
    folder = samples_dir / "guardduty" / "aws-samples_amazon-guardduty-automated-response-sample"
    # Act
    [iam] = parse((folder / "guardduty_iam_event.json").read_bytes())
    [ec2] = parse((folder / "guardduty_ec2_event.json").read_bytes())
    # Assert
    assert isinstance(iam, Finding)
    assert isinstance(ec2, Finding)
    assert (iam.finding_id, iam.type, iam.severity) == (
        "30bf285e52a1e405084ff6ec28e06e17",
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        5.0,
    )
    assert (iam.access_key_id, iam.principal_id, iam.user_type, iam.user_name) == (
        "GeneratedFindingAccessKeyId",
        "GeneratedFindingPrincipalId",
        "IAMUser",
        "GeneratedFindingUserName",
    )
    assert (iam.api_name, iam.api_service, iam.remote_ips) == (
        "GeneratedFindingAPIName",
        "GeneratedFindingAPIServiceName",
        ("198.51.100.0",),
    )
    assert (iam.archived, ec2.archived) == (True, False)
    assert iam.updated_at == datetime(2022, 1, 13, 0, 0, 47, 427000, tzinfo=UTC)
    assert ec2.instance_id == "i-05746eb48123455e0"
    assert (ec2.action_type, ec2.remote_ips) == ("NETWORK_CONNECTION", ("0.0.0.0",))  # noqa: S104 - an address
    assert ("Instance", "i-05746eb48123455e0") in ec2.resources


def test_panther_shaped_times_with_a_space_and_nanoseconds_parse(samples_dir: Path) -> None:
    # Arrange
    path = samples_dir / "guardduty" / "panther-analysis"
    path = path / "rules__aws_guardduty_rules__aws_guardduty_critical_sev_findings.json"
    # Act
    items = parse(path.read_bytes())
    # Assert
    first = items[0]
    assert isinstance(first, Finding)
    assert first.updated_at == datetime(2025, 2, 25, 20, 40, 6, 721000, tzinfo=UTC)
    assert first.last_seen == datetime(2025, 2, 25, 20, 40, 6, tzinfo=UTC)
    assert severity_label(first.severity) == "CRITICAL"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-03-05T10:00:00Z", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05T10:00:00.123Z", datetime(2024, 3, 5, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2024-03-05 10:00:00.000000000", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("2024-03-05T12:00:00+02:00", datetime(2024, 3, 5, 10, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_times(text: str | None, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_the_three_shapes_give_the_same_finding() -> None:
    # Arrange
    value = finding()
    shapes = {
        "get-findings": orjson.dumps({"Findings": [value]}),
        "array": orjson.dumps([value]),
        "single": orjson.dumps(value),
        "export-line": orjson.dumps(value) + b"\n",
        "eventbridge": orjson.dumps({"version": "0", "detail-type": "GuardDuty Finding", "detail": value}),
    }
    for shape, data in shapes.items():
        # Act
        items = parse(data)
        # Assert
        assert len(items) == 1, shape
        assert isinstance(items[0], Finding), shape
        assert (items[0].finding_id, items[0].count, items[0].access_key_id) == ("f00d", 2, "ASIAEXAMPLE")
        assert looks_like_findings(data), shape


def test_bad_findings_are_reported_with_position_and_reason_and_the_rest_parse() -> None:
    # Arrange: JSON lines of an export: good, no id, severity text, no updatedAt, broken JSON, good
    no_id = finding()
    del no_id["id"]
    lines = [
        orjson.dumps(finding(id="a")),
        orjson.dumps(no_id),
        orjson.dumps(finding(id="c", severity="high")),
        orjson.dumps(finding(id="d", updatedAt="soon")),
        b'{"schemaVersion": "2.0", "id": "e", "sever',
        orjson.dumps(finding(id="f")),
    ]
    # Act
    items = parse(b"\n".join(lines))
    # Assert
    assert [i.finding_id for i in items if isinstance(i, Finding)] == ["a", "f"]
    bad = [(i.position, i.reason) for i in items if isinstance(i, BadItem)]
    assert [p for p, _ in bad] == [1, 2, 3, 4]
    assert "no id" in bad[0][1]
    assert "severity" in bad[1][1]
    assert "updatedAt" in bad[2][1]
    assert "JSON" in bad[3][1]


def test_other_kinds_inside_an_eventbridge_archive_are_skipped_not_bad() -> None:
    # Arrange
    lines = [
        orjson.dumps({"detail-type": "GuardDuty Finding", "detail": finding()}),
        orjson.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventID": "x"}}),
        orjson.dumps({"eventVersion": "1.09", "eventID": "y"}),
    ]
    # Act
    items = parse(b"\n".join(lines))
    # Assert
    assert isinstance(items[0], Finding)
    assert items[1:] == [
        Skipped(1, "eventbridge: AWS API Call via CloudTrail"),
        Skipped(2, "cloudtrail-record"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'{"Records": [{"eventVersion": "1.09"}]}', id="trail-file"),
        pytest.param(b'[{"eventVersion": "1.09", "eventID": "x"}]', id="record-array"),
        pytest.param(
            b'{"detail-type": "AWS API Call via CloudTrail", "detail": {}}', id="cloudtrail-envelope"
        ),
        pytest.param(b'{"Accounts": []}', id="organizations-export"),
        pytest.param(b"not json", id="text"),
        pytest.param(b'{"schemaVersion": "2.0", "severity": 5, "resource": {"x": "' + b"y" * 70000, id="cut"),
    ],
)
def test_other_content_is_not_taken_for_findings(data: bytes) -> None:
    assert not looks_like_findings(data)
