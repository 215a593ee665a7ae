"""GuardDuty findings to typed rows: pure functions, no I/O beyond the byte stream given.

Findings arrive in three shapes, all read by the same streaming JSON reader:

- the S3 export (`AWSLogs/<account>/GuardDuty/<region>/…/*.jsonl.gz`): one finding per line; a
  finding updated later is exported again with the same id, a newer `updatedAt` and a grown
  `service.count`;
- `aws guardduty get-findings` output: `{"Findings": [...]}`, a JSON array, or a single finding
  (the only way archived findings reach us: the export and EventBridge carry active ones);
- EventBridge events (`detail-type: GuardDuty Finding`, the finding in `detail`), one per line or
  in an array.

Each value becomes a `Finding` (or a `BadItem` saying why not: no id, no type, no valid
`updatedAt`, a severity that is not a number). Items of other kinds (a CloudTrail record, another
EventBridge detail type) are `Skipped`, counted by the loader, never errors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ingest.cloudtrail import BadItem, Skipped, excerpt, tolerant_stream_items

DETAIL_TYPE = "GuardDuty Finding"
_SNIFF_BYTES = 64 * 1024
_FINDINGS_HEAD = re.compile(rb'^\s*\{\s*"Findings"\s*:\s*\[')
_FRACTION = re.compile(r"\.(\d+)")


@dataclass(frozen=True)
class Finding:
    """One version of a finding, with the fields it is linked and filtered by."""

    finding_id: str
    account_id: str
    region: str
    partition: str
    arn: str
    type: str
    title: str
    description: str
    severity: float
    created_at: datetime
    updated_at: datetime
    first_seen: datetime
    last_seen: datetime
    count: int
    archived: bool
    resource_type: str
    access_key_id: str
    principal_id: str
    user_name: str
    user_type: str
    instance_id: str
    action_type: str
    api_name: str
    api_service: str
    remote_ips: tuple[str, ...]
    # (kind, identifier) of every resource the finding names: access key, instance, bucket, ...
    resources: tuple[tuple[str, str], ...]
    raw: bytes


def looks_like_findings(head: bytes) -> bool:
    """Whether decompressed bytes hold GuardDuty findings (not CloudTrail), from their first value.

    For files outside the AWSLogs/…/GuardDuty/ layout: a GetFindings dump or an EventBridge
    archive of findings. Decided by the first JSON value only; when it does not fit in the head,
    the answer is no (the CloudTrail reader then counts the findings as skipped, never loses them
    silently).
    """
    text = head[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").lstrip()
    if _FINDINGS_HEAD.match(text):
        return True
    if text.startswith(b"["):
        text = text[1:].lstrip()
    try:
        value, _end = json.JSONDecoder().raw_decode(text.decode("utf-8", errors="replace"))
    except json.JSONDecodeError:
        return False
    return isinstance(value, dict) and _kind(value) == "finding"


def _kind(value: dict[str, Any]) -> str:
    if "detail-type" in value and "detail" in value:
        return "finding" if value.get("detail-type") == DETAIL_TYPE else "eventbridge"
    if isinstance(value.get("Findings"), list):
        return "finding"
    if "schemaVersion" in value and "severity" in value and ("service" in value or "resource" in value):
        return "finding"
    if "eventVersion" in value or "eventID" in value:
        return "cloudtrail-record"
    return ""


def findings_of(pieces: Iterator[bytes]) -> Iterator[Finding | BadItem | Skipped]:
    """Every finding in a byte stream of any of the three shapes, in order.

    Positions count finding candidates over the whole object (an element of a `Findings` array or
    of a JSON array is one candidate, as is a line).
    """
    position = 0
    for value in tolerant_stream_items(pieces):
        if isinstance(value, BadItem):
            yield BadItem(position, value.reason, value.excerpt)
            position += 1
            continue
        for item in _candidates(value):
            yield _parse(item, position)
            position += 1


def _candidates(value: Any) -> Iterator[Any]:
    if isinstance(value, list):
        for item in value:
            yield from _candidates(item)
    elif isinstance(value, dict) and isinstance(value.get("Findings"), list):
        yield from value["Findings"]
    else:
        yield value


def _parse(value: Any, position: int) -> Finding | BadItem | Skipped:
    if not isinstance(value, dict):
        return BadItem(position, "not a JSON object", excerpt(orjson.dumps(value)))
    kind = _kind(value)
    if kind == "eventbridge":
        return Skipped(position, f"eventbridge: {value.get('detail-type')}")
    if kind == "cloudtrail-record":
        return Skipped(position, "cloudtrail-record")
    if "detail-type" in value:
        value = value["detail"]
        if not isinstance(value, dict):
            return BadItem(position, "EventBridge detail is not a JSON object", excerpt(orjson.dumps(value)))
    try:
        return parse_finding(value)
    except ValueError as exc:
        return BadItem(position, str(exc), excerpt(orjson.dumps(value)))


def parse_finding(value: dict[str, Any]) -> Finding:
    """A finding from its JSON object; ValueError says what makes it unusable."""
    finding_id = _text(value.get("id"))
    if not finding_id:
        raise ValueError("not a GuardDuty finding: no id")
    finding_type = _text(value.get("type"))
    if not finding_type:
        raise ValueError("not a GuardDuty finding: no type")
    updated = parse_time(value.get("updatedAt"))
    if updated is None:
        raise ValueError("no valid updatedAt")
    created = parse_time(value.get("createdAt")) or updated
    severity = value.get("severity")
    if isinstance(severity, bool) or not isinstance(severity, int | float):
        raise ValueError("severity is not a number")
    service = _dict(value.get("service"))
    resource = _dict(value.get("resource"))
    key = _dict(resource.get("accessKeyDetails"))
    instance = _dict(resource.get("instanceDetails"))
    action = _dict(service.get("action"))
    api = _dict(action.get("awsApiCallAction"))
    count = service.get("count")
    return Finding(
        finding_id=finding_id,
        account_id=_text(value.get("accountId")),
        region=_text(value.get("region")),
        partition=_text(value.get("partition")) or "aws",
        arn=_text(value.get("arn")),
        type=finding_type,
        title=_text(value.get("title")),
        description=_text(value.get("description")),
        severity=float(severity),
        created_at=created,
        updated_at=updated,
        first_seen=parse_time(service.get("eventFirstSeen")) or created,
        last_seen=parse_time(service.get("eventLastSeen")) or updated,
        count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 1,
        archived=service.get("archived") is True,
        resource_type=_text(resource.get("resourceType")),
        access_key_id=_text(key.get("accessKeyId")),
        principal_id=_text(key.get("principalId")),
        user_name=_text(key.get("userName")),
        user_type=_text(key.get("userType")),
        instance_id=_text(instance.get("instanceId")),
        action_type=_text(action.get("actionType")),
        api_name=_text(api.get("api")),
        api_service=_text(api.get("serviceName")),
        remote_ips=tuple(sorted(set(_remote_ips(action)))),
        resources=tuple(_resources(resource)),
        raw=orjson.dumps(value),
    )


def parse_time(value: Any) -> datetime | None:
    """GuardDuty times: ISO 8601 with `Z` (the API, the export) or with a space and nanoseconds
    (as some pipelines re-serialise them); None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    text = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _remote_ips(action: dict[str, Any]) -> Iterator[str]:
    """Remote addresses of every action kind (API call, network connection, port probes, ...)."""
    for detail in action.values():
        if not isinstance(detail, dict):
            continue
        places = [detail.get("remoteIpDetails")]
        places += [_dict(probe).get("remoteIpDetails") for probe in detail.get("portProbeDetails") or []]
        for place in places:
            for field in ("ipAddressV4", "ipAddressV6"):
                address = _text(_dict(place).get(field))
                if address:
                    yield address


def _resources(resource: dict[str, Any]) -> Iterator[tuple[str, str]]:
    key = _text(_dict(resource.get("accessKeyDetails")).get("accessKeyId"))
    if key:
        yield ("AccessKey", key)
    instance = _text(_dict(resource.get("instanceDetails")).get("instanceId"))
    if instance:
        yield ("Instance", instance)
    for bucket in resource.get("s3BucketDetails") or []:
        bucket = _dict(bucket)
        name = _text(bucket.get("arn")) or _text(bucket.get("name"))
        if name:
            yield ("S3Bucket", name)
    singles = (
        ("eksClusterDetails", "EKSCluster", "arn", "name"),
        ("ecsClusterDetails", "ECSCluster", "arn", "name"),
        ("lambdaDetails", "Lambda", "functionArn", "functionName"),
        ("rdsDbInstanceDetails", "RDSDBInstance", "dbInstanceArn", "dbInstanceIdentifier"),
        ("containerDetails", "Container", "id", "name"),
    )
    for field, kind, primary, fallback in singles:
        detail = _dict(resource.get(field))
        name = _text(detail.get(primary)) or _text(detail.get(fallback))
        if name:
            yield (kind, name)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)
