"""CloudTrail objects to record texts: pure functions, no I/O beyond the byte stream given.

ClickHouse parses the records (cloudtrail_parsed_mv); this module only finds record boundaries so
that an object goes to ClickHouse in bounded chunks of comma-separated JSON objects
(the JSONAsString input format). Two paths:

- fast: an S3-delivered trail file `{"Records":[...]}` is cut at record boundaries without parsing;
- tolerant: anything else (JSON arrays, JSON lines, EventBridge envelopes, damaged files) is parsed
  record by record in Python, so a bad record is reported with its position and the rest loads.
"""

from __future__ import annotations

import codecs
import itertools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson

CHUNK_BYTES = 16 * 1024 * 1024
# A single record larger than this is reported bad instead of being buffered further.
MAX_RECORD_BYTES = 64 * 1024 * 1024
# Record boundary inside a trail file. A quote inside a JSON string is escaped, so `},{"eventVersion"`
# with bare quotes only occurs between records; a chunk cut wrongly fails to parse and is redone
# by the tolerant path, never loaded wrongly.
_BOUNDARY_COMPACT = b'},{"eventVersion"'
_BOUNDARY = re.compile(rb'\}\s*,\s*\{\s*"eventVersion"')
_RECORDS_HEAD = re.compile(rb'^(?:\xef\xbb\xbf)?\s*\{\s*"Records"\s*:\s*\[\s*')
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
    # Position of each record in `data` within its object; empty: the n-th record is at n.
    positions: tuple[int, ...] = ()


class TruncatedRecords(Exception):
    """A trail file ended before its Records array closed."""


class NoBoundary(Exception):
    """No record boundary in a large stretch of a Records file: it needs the tolerant reader."""


def sniff(head: bytes) -> Shape:
    """Tell the shape of a decompressed object from its first bytes."""
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
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


class RecordsFileChunker:
    """Cut a `{"Records":[...]}` byte stream into chunks of whole records, comma-separated.

    Iterating yields (offset, chunk): offset is the number of records before the chunk. Memory is
    bounded by chunk_bytes plus one input piece (and one record longer than that); when no record
    boundary is found in max(4 x chunk_bytes, MAX_RECORD_BYTES) (records not starting with
    "eventVersion"), iteration
    raises NoBoundary and `buffered` + the rest of `pieces` go to the tolerant reader. Raises
    TruncatedRecords when the array never closes.
    """

    def __init__(self, pieces: Iterator[bytes], chunk_bytes: int = CHUNK_BYTES) -> None:
        self.pieces = pieces
        self.chunk_bytes = chunk_bytes
        self.buffered = b""
        self.records_before = 0

    def __iter__(self) -> Iterator[tuple[int, bytes]]:
        started = False
        for piece in self.pieces:
            self.buffered += piece
            if not started:
                head = _RECORDS_HEAD.match(self.buffered)
                if head is None:
                    if len(self.buffered) < _SNIFF_BYTES:
                        continue
                    raise ValueError("not a CloudTrail Records file")
                self.buffered = self.buffered[head.end() :]
                started = True
            while len(self.buffered) >= self.chunk_bytes:
                cut = _last_boundary(self.buffered, self.chunk_bytes)
                if cut < 0:
                    if len(self.buffered) > max(4 * self.chunk_bytes, MAX_RECORD_BYTES):
                        raise NoBoundary()
                    break
                chunk = self.buffered[: cut + 1]
                self.buffered = self.buffered[self.buffered.index(b"{", cut + 1) :]
                yield self._emit(chunk)
        end = _records_end(self.buffered) if started else -1
        if end < 0:
            raise TruncatedRecords(self.buffered if started else b"")
        body = self.buffered[:end]
        self.buffered = b""
        if body.strip():
            yield self._emit(body)

    def _emit(self, chunk: bytes) -> tuple[int, bytes]:
        offset = self.records_before
        self.records_before += count_records(chunk) or 0
        return offset, chunk


def _records_end(buf: bytes) -> int:
    """Where the Records array's closing `]}` starts, or -1 when the file does not end with it.

    Read from the end (a regex search would scan the whole buffer)."""
    end = len(buf.rstrip())
    if end == 0 or buf[end - 1 : end] != b"}":
        return -1
    end = len(buf[: end - 1].rstrip())
    if end == 0 or buf[end - 1 : end] != b"]":
        return -1
    return len(buf[: end - 1].rstrip())


def count_records(chunk: bytes) -> int | None:
    """Records in a chunk cut at record boundaries, when the count can be trusted without parsing.

    Boundaries are `},{"eventVersion"`: AWS writes eventVersion first in every record. The count
    is trusted only when it equals the number of eventVersion keys in the chunk (one per record);
    records written in another key order, or without eventVersion, give None."""
    compact = chunk.count(_BOUNDARY_COMPACT)
    boundaries = compact if compact else len(_BOUNDARY.findall(chunk))
    keys = chunk.count(b'"eventVersion":') + chunk.count(b'"eventVersion" :')
    return boundaries + 1 if keys == boundaries + 1 else None


def records_file_chunks(pieces: Iterable[bytes], chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The chunks of a Records file, without offsets (see RecordsFileChunker)."""
    for _offset, chunk in RecordsFileChunker(iter(pieces), chunk_bytes):
        yield chunk


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
    """Decode a stretch of JSON values (array, lines or comma-separated) one by one."""
    return tolerant_stream_items(iter([data]))


def tolerant_stream_items(
    pieces: Iterator[bytes], max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[Any | BadItem]:
    """Decode JSON values one by one from a byte stream, holding at most one record beyond a piece.

    Accepts a JSON array, JSON lines, comma-separated values, and the `{"Records":[` wrapper or
    its closing `]}` around them. A value that does not decode is a BadItem ("truncated record"
    when the stream ends inside it, else "not valid JSON"), and decoding resumes at the next `{`
    from which a whole record decodes, so one broken record loses only itself.
    """
    decoder = json.JSONDecoder()
    text_decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    buffer = _Buffer(pieces, text_decoder)
    index = 0
    pos = buffer.skip_head()
    while True:
        pos = buffer.skip_separators(pos)
        if pos >= len(buffer.text):
            return
        try:
            value, end = buffer.decode(decoder, pos, max_record_bytes)
        except json.JSONDecodeError as exc:
            resume = buffer.resync(pos + 1, max_record_bytes)
            truncated = resume < 0 and buffer.exhausted and _unclosed(buffer.text, pos)
            reason = "truncated record" if truncated else f"not valid JSON: {exc.msg}"
            yield BadItem(index, reason, buffer.text[pos : pos + _EXCERPT])
            index += 1
            if resume < 0:
                return
            pos = buffer.compact(resume)
            continue
        yield value
        index += 1
        pos = buffer.compact(end)


def _unclosed(text: str, pos: int) -> bool:
    """Whether the value starting at pos is still open at the end of text (cut off, not malformed)."""
    depth = 0
    in_string = escaped = False
    for char in itertools.islice(text, pos, None):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
    return depth > 0 or in_string


class _Buffer:
    """Decoded text read from a byte stream on demand; consumed text is dropped."""

    def __init__(self, pieces: Iterator[bytes], text_decoder: codecs.IncrementalDecoder) -> None:
        self.pieces = pieces
        self.text_decoder = text_decoder
        self.text = ""
        self.exhausted = False

    def more(self) -> bool:
        for piece in self.pieces:
            chunk = self.text_decoder.decode(piece)
            if chunk:
                self.text += chunk
                return True
        if not self.exhausted:
            self.text += self.text_decoder.decode(b"", final=True)
            self.exhausted = True
        return False

    def skip_head(self) -> int:
        while len(self.text) < _SNIFF_BYTES and self.more():
            pass
        self.text = self.text.lstrip("\ufeff")
        head = _RECORDS_HEAD_TEXT.match(self.text)
        if head:
            return head.end()
        pos = self.skip_separators(0)
        return pos + 1 if self.text[pos : pos + 1] == "[" else pos

    def skip_separators(self, pos: int) -> int:
        while True:
            while pos < len(self.text) and self.text[pos] in _SEPARATORS:
                pos += 1
            if pos < len(self.text) or not self.more():
                return pos

    def decode(self, decoder: json.JSONDecoder, pos: int, limit: int) -> tuple[Any, int]:
        while True:
            try:
                return decoder.raw_decode(self.text, pos)
            except json.JSONDecodeError:
                # The value may go on in the next piece: read more, up to one record's limit.
                if self.exhausted or len(self.text) - pos > limit or not self.more():
                    raise

    def resync(self, pos: int, limit: int) -> int:
        while True:
            found = _resync(self.text, pos)
            if found >= 0 or self.exhausted or len(self.text) - pos > limit or not self.more():
                return found

    def compact(self, pos: int) -> int:
        if pos > _COMPACT_AT:
            self.text = self.text[pos:]
            return 0
        return pos


# Whitespace, commas between values, and the closers of an array or a Records wrapper.
_SEPARATORS = frozenset(" \t\r\n,]}")
_RECORDS_HEAD_TEXT = re.compile(r'\s*\{\s*"Records"\s*:\s*\[')
_COMPACT_AT = 1 << 20


_RESYNC_ATTEMPTS = 10_000
# "schemaVersion": a GuardDuty finding (ingest.guardduty reads findings with the same reader).
_RECORD_KEYS = ("eventID", "eventName", "eventTime", "Records", "detail-type", "schemaVersion")


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
    if isinstance(value.get("Accounts"), list) or isinstance(value.get("Users"), list):
        yield Skipped(position, "organizations-or-identity-store-export")
        return
    if "schemaVersion" in value and "resource" in value and "severity" in value:
        yield Skipped(position, "guardduty-finding")
        return
    yield BadItem(position, "not a CloudTrail record: no eventID or eventName", excerpt(orjson.dumps(value)))


def tolerant_chunks(data: bytes, first_index: int, chunk_bytes: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """Chunks of re-serialised records from any JSON shape held in memory."""
    return tolerant_stream(iter([data]), first_index, chunk_bytes)


def tolerant_stream(
    pieces: Iterator[bytes], first_index: int, chunk_bytes: int = CHUNK_BYTES, first_position: int = 0
) -> Iterator[Chunk]:
    """Chunks of re-serialised records from a byte stream of any JSON shape, with what was bad or
    skipped. Positions count items from `first_position` over the whole stream; each chunk says
    the position of every record it carries, so the engine can report its own rejects truly."""
    index = first_index
    records: list[bytes] = []
    positions: list[int] = []
    bad: list[BadItem] = []
    skipped: list[Skipped] = []
    size = 0
    position = first_position
    for item in tolerant_stream_items(pieces):
        found: Iterable[Any] = [item] if isinstance(item, BadItem) else records_of(item, position)
        for record in found:
            if isinstance(record, BadItem):
                bad.append(BadItem(position, record.reason, record.excerpt))
            elif isinstance(record, Skipped):
                skipped.append(Skipped(position, record.kind))
            else:
                text = orjson.dumps(record)
                records.append(text)
                positions.append(position)
                size += len(text) + 1
            position += 1
        if size >= chunk_bytes:
            yield Chunk(index, b",".join(records), tuple(bad), tuple(skipped), tuple(positions))
            index += 1
            records, positions, bad, skipped, size = [], [], [], [], 0
    if records or bad or skipped:
        yield Chunk(index, b",".join(records), tuple(bad), tuple(skipped), tuple(positions))
