"""CloudTrail objects to record texts: pure functions, no I/O beyond the byte stream given.

ClickHouse parses the records (cloudtrail_parsed_mv); this module only finds record boundaries so
that an object goes to ClickHouse in bounded chunks of comma-separated JSON objects
(the JSONAsString input format). Two paths:

- fast: an S3-delivered trail file `{"Records":[...]}` is cut at record boundaries without parsing;
- tolerant: anything else (JSON arrays, JSON lines, EventBridge envelopes, damaged files) is parsed
  record by record in Python, so a bad record is reported with its position and the rest loads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

CHUNK_BYTES = 16 * 1024 * 1024
# Record boundary inside a trail file. A quote inside a JSON string is escaped, so `},{"eventVersion"`
# with bare quotes only occurs between records; a chunk cut wrongly fails to parse and is redone
# by the tolerant path, never loaded wrongly.
_BOUNDARY_COMPACT = b'},{"eventVersion"'
_BOUNDARY = re.compile(rb'\}\s*,\s*\{\s*"eventVersion"')
_RECORDS_HEAD = re.compile(rb'^\s*\{\s*"Records"\s*:\s*\[\s*')
_RECORDS_TAIL = re.compile(rb"\s*\]\s*\}\s*$")
_SNIFF_BYTES = 64 * 1024
_EXCERPT = 1024

CLOUDTRAIL_DETAIL_TYPES = frozenset(
    {
        "AWS API Call via CloudTrail",
        "AWS Console Sign In via CloudTrail",
        "AWS Console Signin via CloudTrail",
        "AWS Console Action via CloudTrail",
        "AWS Service Event via CloudTrail",
    }
)


class Shape(StrEnum):
    RECORDS_FILE = "records-file"
    JSON = "json"
    DIGEST = "digest"
    NOT_JSON = "not-json"
    EMPTY = "empty"


@dataclass(frozen=True)
class BadItem:
    """A record (or stretch of bytes) that could not be loaded."""

    position: int
    reason: str
    excerpt: str


@dataclass(frozen=True)
class Skipped:
    """An item of another kind found inside a CloudTrail-looking file (e.g. a GuardDuty finding)."""

    position: int
    kind: str


@dataclass(frozen=True)
class Chunk:
    """Comma-separated record texts (JSONAsString input), plus what Python itself rejected."""

    index: int
    data: bytes
    bad: tuple[BadItem, ...] = ()
    skipped: tuple[Skipped, ...] = ()


class TruncatedRecords(Exception):
    """A trail file ended before its Records array closed."""


def sniff(head: bytes) -> Shape:
    """Tell the shape of a decompressed object from its first bytes."""
    text = head.lstrip()
    if not text:
        return Shape.EMPTY
    if _RECORDS_HEAD.match(text):
        return Shape.RECORDS_FILE
    if text[:1] not in (b"{", b"["):
        return Shape.NOT_JSON
    if b'"digestStartTime"' in text[:_SNIFF_BYTES] and b'"logFiles"' in text[:_SNIFF_BYTES]:
        return Shape.DIGEST
    return Shape.JSON


def excerpt(data: bytes) -> str:
    return data[:_EXCERPT].decode("utf-8", errors="replace")


def records_file_chunks(pieces: Iterable[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """Cut a `{"Records":[...]}` byte stream into chunks of whole records, comma-separated.

    Memory is bounded by chunk_bytes plus one input piece (and one record longer than that).
    Raises TruncatedRecords, with the unconsumed tail, when the array never closes.
    """
    buf = b""
    started = False
    for piece in pieces:
        buf += piece
        if not started:
            head = _RECORDS_HEAD.match(buf)
            if head is None:
                if len(buf) < _SNIFF_BYTES:
                    continue
                raise ValueError("not a CloudTrail Records file")
            buf = buf[head.end() :]
            started = True
        while len(buf) >= chunk_bytes:
            cut = _last_boundary(buf, chunk_bytes)
            if cut < 0:
                break
            yield buf[: cut + 1]
            buf = buf[buf.index(b"{", cut + 1) :]
    tail = _RECORDS_TAIL.search(buf)
    if not started or tail is None:
        raise TruncatedRecords(buf if started else b"")
    body = buf[: tail.start()]
    if body.strip():
        yield body


def _last_boundary(buf: bytes, limit: int) -> int:
    """The last record boundary before `limit`, else the first after it (one record > limit)."""
    cut = buf.rfind(_BOUNDARY_COMPACT, 0, limit)
    if cut >= 0:
        return cut
    matches = list(_BOUNDARY.finditer(buf, 0, limit))
    if matches:
        return matches[-1].start()
    after = _BOUNDARY.search(buf, limit)
    return after.start() if after else -1


def tolerant_items(data: bytes) -> Iterator[Any | BadItem]:
    """Decode a stretch of JSON values (array, lines or comma-separated) one by one.

    A value that does not decode is reported as a BadItem and decoding resumes at the next
    `{` that follows a `}` (records are objects), so one broken record loses only itself.
    """
    text = data.decode("utf-8", errors="replace")
    decoder = json.JSONDecoder()
    pos = _skip_separators(text, 0)
    if text[pos : pos + 1] == "[":
        pos = _skip_separators(text, pos + 1)
    index = 0
    while pos < len(text):
        if text[pos] == "]" and not text[pos + 1 :].strip():
            return
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            resume = _resync(text, pos + 1)
            reason = "truncated record" if resume < 0 else f"not valid JSON: {exc.msg}"
            yield BadItem(index, reason, text[pos : pos + _EXCERPT])
            index += 1
            if resume < 0:
                return
            pos = resume
            continue
        yield value
        index += 1
        pos = _skip_separators(text, end)


def _skip_separators(text: str, pos: int) -> int:
    while pos < len(text) and (text[pos] in " \t\r\n,"):
        pos += 1
    return pos


_RESYNC_ATTEMPTS = 10_000
_RECORD_KEYS = ("eventID", "eventName", "eventTime", "Records", "detail-type")


def _resync(text: str, pos: int) -> int:
    """The next `{` after a broken value where a whole record decodes (nested objects don't count)."""
    decoder = json.JSONDecoder()
    start = text.find("{", pos)
    for _ in range(_RESYNC_ATTEMPTS):
        if start < 0:
            return -1
        try:
            value, _end = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            value = None
        if isinstance(value, dict) and any(key in value for key in _RECORD_KEYS):
            return start
        start = text.find("{", start + 1)
    return -1


def records_of(value: Any, position: int) -> Iterator[dict[str, Any] | BadItem | Skipped]:
    """The CloudTrail records inside one decoded JSON value.

    A value is a record, a `{"Records": [...]}` wrapper, an EventBridge envelope (routed by
    `detail-type`: only CloudTrail detail types hold records) or an array of any of these.
    """
    if isinstance(value, list):
        for item in value:
            yield from records_of(item, position)
        return
    if not isinstance(value, dict):
        yield BadItem(position, "not a JSON object", excerpt(orjson.dumps(value)))
        return
    if isinstance(value.get("Records"), list):
        for item in value["Records"]:
            yield from records_of(item, position)
        return
    if "detail-type" in value and "detail" in value:
        detail_type = str(value.get("detail-type"))
        if detail_type in CLOUDTRAIL_DETAIL_TYPES and isinstance(value["detail"], dict):
            yield value["detail"]
        elif detail_type == "GuardDuty Finding":
            yield Skipped(position, "guardduty-finding")
        else:
            yield Skipped(position, f"eventbridge: {detail_type}")
        return
    if "eventID" in value or "eventVersion" in value or "eventName" in value:
        yield value
        return
    if "schemaVersion" in value and "resource" in value and "severity" in value:
        yield Skipped(position, "guardduty-finding")
        return
    yield BadItem(position, "not a CloudTrail record: no eventID or eventName", excerpt(orjson.dumps(value)))


def tolerant_chunks(data: bytes, first_index: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Chunks of re-serialised records from any JSON shape, with what was bad or skipped."""
    index = first_index
    records: list[bytes] = []
    bad: list[BadItem] = []
    skipped: list[Skipped] = []
    size = 0
    position = 0
    for item in tolerant_items(data):
        found: Iterable[Any] = [item] if isinstance(item, BadItem) else records_of(item, position)
        for record in found:
            if isinstance(record, BadItem):
                bad.append(BadItem(position, record.reason, record.excerpt))
            elif isinstance(record, Skipped):
                skipped.append(Skipped(position, record.kind))
            else:
                text = orjson.dumps(record)
                records.append(text)
                size += len(text) + 1
            position += 1
        if size >= chunk_bytes:
            yield Chunk(index, b",".join(records), tuple(bad), tuple(skipped))
            index += 1
            records, bad, skipped, size, position = [], [], [], 0, 0
    if records or bad or skipped:
        yield Chunk(index, b",".join(records), tuple(bad), tuple(skipped))
