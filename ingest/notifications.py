"""Notifications of new objects, as organisations deliver them to an SQS queue (pure parsing).

Shapes understood, each possibly wrapped in an SNS envelope (`{"Type": "Notification",
"Message": "<json>"}`, i.e. SNS to SQS without raw message delivery):

- S3 event notifications: `{"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
  "s3": {"bucket": {"name"}, "object": {"key", "size"}}}]}`; keys are URL-encoded (`+` for space).
- CloudTrail's own SNS delivery notices: `{"s3Bucket": "...", "s3ObjectKey": ["...", ...]}`.
- EventBridge "Object Created" events delivered to SQS (`detail.bucket.name`, `detail.object.key`).
- The S3 test event (`{"Event": "s3:TestEvent"}`) that S3 sends when notifications are configured:
  ignored. Object removal events are ignored too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

import orjson

_MAX_DEPTH = 3


@dataclass(frozen=True)
class Notice:
    """One new object named by a notification; size is None when the notification lacks it."""

    bucket: str
    key: str
    size: int | None = None


class NotANotification(ValueError):
    """A message body in none of the understood shapes."""


def parse_message(body: str | bytes) -> list[Notice]:
    """The new objects a queue message names (empty for test events and removals)."""
    return _parse(_json(body), 0)


def _json(body: str | bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise NotANotification(f"not JSON: {exc}") from exc


def _parse(data: Any, depth: int) -> list[Notice]:
    if not isinstance(data, dict):
        raise NotANotification("not a JSON object")
    if data.get("Type") == "Notification" and isinstance(data.get("Message"), str) and depth < _MAX_DEPTH:
        return _parse(_json(data["Message"]), depth + 1)
    if data.get("Event") == "s3:TestEvent":
        return []
    if isinstance(data.get("Records"), list):
        return [notice for record in data["Records"] for notice in _s3_record(record)]
    if "s3ObjectKey" in data:
        return _cloudtrail_notice(data)
    if data.get("source") == "aws.s3" and isinstance(data.get("detail"), dict):
        return _eventbridge(data)
    raise NotANotification("neither an S3 event, a CloudTrail delivery notice nor an SNS envelope of one")


def _s3_record(record: Any) -> list[Notice]:
    if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
        raise NotANotification("a Records entry that is not an S3 event")
    if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
        return []
    s3 = record.get("s3") or {}
    bucket = (s3.get("bucket") or {}).get("name")
    obj = s3.get("object") or {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise NotANotification("an S3 event without bucket name or object key")
    size = obj.get("size")
    return [Notice(bucket, unquote_plus(key), int(size) if isinstance(size, int) else None)]


def _cloudtrail_notice(data: dict[str, Any]) -> list[Notice]:
    bucket, keys = data.get("s3Bucket"), data.get("s3ObjectKey")
    if not isinstance(bucket, str) or not bucket:
        raise NotANotification("a CloudTrail notice without s3Bucket")
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
        raise NotANotification("a CloudTrail notice whose s3ObjectKey is not a list of keys")
    return [Notice(bucket, key) for key in keys]


def _eventbridge(data: dict[str, Any]) -> list[Notice]:
    if data.get("detail-type") != "Object Created":
        return []
    detail = data["detail"]
    bucket = (detail.get("bucket") or {}).get("name")
    obj = detail.get("object") or {}
    key = obj.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        raise NotANotification("an EventBridge S3 event without bucket name or object key")
    size = obj.get("size")
    return [Notice(bucket, key, int(size) if isinstance(size, int) else None)]
