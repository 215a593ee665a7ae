"""Queue messages in the shapes organisations deliver: S3 events, SNS envelopes, CloudTrail notices."""

from __future__ import annotations

import json

import pytest

from ingest.notifications import NotANotification, Notice, parse_message

BUCKET = "acme-org-trail"
KEY = "AWSLogs/o-a1b2c3d4e5/111111111111/CloudTrail/us-east-1/2024/05/01/f.json.gz"


def _s3_event(name: str = "ObjectCreated:Put", key: str = KEY, size: int | None = 1234) -> dict[str, object]:
    obj: dict[str, object] = {"key": key, "eTag": "0123"}
    if size is not None:
        obj["size"] = size
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": name,
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET}, "object": obj},
            }
        ]
    }


def test_an_s3_event_names_its_object_with_size() -> None:
    # Act
    notices = parse_message(json.dumps(_s3_event()))
    # Assert
    assert notices == [Notice(BUCKET, KEY, 1234)]


def test_an_s3_event_key_is_url_decoded() -> None:
    # Arrange: S3 encodes keys in events (space as +, others as %XX)
    encoded = "AWSLogs/case+folder/a%3Ab.json.gz"
    # Act
    notices = parse_message(json.dumps(_s3_event(key=encoded)))
    # Assert
    assert notices[0].key == "AWSLogs/case folder/a:b.json.gz"


def test_an_s3_event_wrapped_in_sns_is_unwrapped() -> None:
    # Arrange: SNS to SQS without raw message delivery
    envelope = {
        "Type": "Notification",
        "TopicArn": "arn:aws:sns:us-east-1:1:t",
        "Message": json.dumps(_s3_event()),
    }
    # Act
    notices = parse_message(json.dumps(envelope))
    # Assert
    assert notices == [Notice(BUCKET, KEY, 1234)]


def test_a_cloudtrail_delivery_notice_names_every_key_without_size() -> None:
    # Arrange: CloudTrail's own SNS notification, wrapped by SNS
    notice = {"s3Bucket": BUCKET, "s3ObjectKey": [KEY, KEY.replace("f.json", "g.json")]}
    envelope = {"Type": "Notification", "Message": json.dumps(notice)}
    # Act
    notices = parse_message(json.dumps(envelope))
    # Assert
    assert notices == [Notice(BUCKET, KEY), Notice(BUCKET, KEY.replace("f.json", "g.json"))]


@pytest.mark.parametrize(
    "body",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Time": "2024-05-01T00:00:00Z", "Bucket": BUCKET},
        _s3_event(name="ObjectRemoved:Delete"),
        {"source": "aws.s3", "detail-type": "Object Deleted", "detail": {"bucket": {"name": BUCKET}}},
    ],
    ids=["test-event", "removal", "eventbridge-removal"],
)
def test_test_events_and_removals_name_nothing(body: dict[str, object]) -> None:
    # Act / Assert
    assert parse_message(json.dumps(body)) == []


def test_an_eventbridge_object_created_event_names_its_object() -> None:
    # Arrange
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": KEY, "size": 99}},
    }
    # Act / Assert
    assert parse_message(json.dumps(event)) == [Notice(BUCKET, KEY, 99)]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"hello": "world"}',
        '{"Records": [{"eventSource": "aws:sqs"}]}',
        '{"s3Bucket": "b"}',
    ],
    ids=["not-json", "array", "unknown-object", "other-records", "notice-without-keys"],
)
def test_other_messages_are_refused_with_a_reason(body: str) -> None:
    # Act / Assert
    with pytest.raises(NotANotification):
        parse_message(body)
