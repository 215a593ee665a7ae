"""VPC Flow Logs: the format of a flow log file and its lines cut into bounded chunks (pure).

A flow log file delivered to S3 starts with a header line naming its fields in the flow log's
configured order; custom formats differ per flow log, so the header decides, never a fixed column
order. A file without a header (a CloudWatch export, a documentation snippet) is read as the
default format when its first line has the default's 14 fields. The lines themselves are split
and typed inside ClickHouse (clickhouse/migrations/0007_create_flowlog_tables.sql): this module
only finds the format and cuts the text into chunks of whole lines, counting them, so that every
line keeps its number in the file.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# Every field AWS documents for VPC flow logs, with the version that introduced it. Fields a
# newer AWS version adds are still accepted (kept by name in `extra`), never guessed at.
FIELD_VERSIONS: dict[str, int] = {
    "version": 2, "account-id": 2, "interface-id": 2, "srcaddr": 2, "dstaddr": 2, "srcport": 2,
    "dstport": 2, "protocol": 2, "packets": 2, "bytes": 2, "start": 2, "end": 2, "action": 2,
    "log-status": 2, "vpc-id": 3, "subnet-id": 3, "instance-id": 3, "tcp-flags": 3, "type": 3,
    "pkt-srcaddr": 3, "pkt-dstaddr": 3, "region": 4, "az-id": 4, "sublocation-type": 4,
    "sublocation-id": 4, "pkt-src-aws-service": 5, "pkt-dst-aws-service": 5, "flow-direction": 5,
    "traffic-path": 5, "ecs-cluster-arn": 7, "ecs-cluster-name": 7, "ecs-container-instance-arn": 7,
    "ecs-container-instance-id": 7, "ecs-container-id": 7, "ecs-second-container-id": 7,
    "ecs-service-name": 7, "ecs-task-definition-arn": 7, "ecs-task-arn": 7, "ecs-task-id": 7,
    "reject-reason": 8,
}  # fmt: skip
DEFAULT_FIELDS = (
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol",
    "packets", "bytes", "start", "end", "action", "log-status",
)  # fmt: skip
# Transit Gateway flow logs (version 6) describe attachments, not interfaces: a different log.
TRANSIT_GATEWAY_FIELDS = frozenset({"tgw-id", "tgw-attachment-id", "tgw-src-eni", "tgw-dst-eni"})
# A position past the end of any line: the view reads '' there (a field the format does not have).
ABSENT = 1000
CHUNK_BYTES = 128 * 1024 * 1024
# Objects whose stored size is at most a chunk divided by this are read whole and loaded with
# others of their format, large ones included (ingest.flowlog_load; ingest.actors groups their
# messages by it): every INSERT through the flow views has a fixed cost (tens of milliseconds) and
# leaves parts to merge, so fewer, fuller INSERTs cost less CPU per line (measured with make bench).
# Flow text compresses 5 to 8 times, so such an object rarely holds more than a chunk of text; one
# that does streams on from what was read.
WHOLE_FRACTION = 4
MAX_HEADER_BYTES = 64 * 1024
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
# <acct>_vpcflowlogs_<region>_<fl-id>_<YYYYMMDDTHHmmZ>_<hash>.log.gz
_FILE_NAME = re.compile(r"_vpcflowlogs_[a-z0-9-]+_(fl-[0-9a-z]+)_(\d{8}T\d{4}Z)_")


class BadHeader(ValueError):
    """The first line is neither a flow log header nor a default-format record: the object fails."""


class TransitGatewayLog(ValueError):
    """A Transit Gateway flow log: recognised and skipped (it has no interfaces or instances)."""


@dataclass(frozen=True)
class FlowFormat:
    """The fields of a flow log file in their order, and whether the file's first line named them."""

    fields: tuple[str, ...]
    has_header: bool

    @property
    def version(self) -> int:
        """The format's version: the highest version among its known fields (as AWS numbers it)."""
        return max((FIELD_VERSIONS.get(name, 2) for name in self.fields), default=2)

    @property
    def unknown_fields(self) -> tuple[str, ...]:
        return tuple(name for name in self.fields if name not in FIELD_VERSIONS)

    def positions(self) -> dict[str, Any]:
        """Where each field is in a line, as the parsing view reads it (1-based; ABSENT if missing).

        `at` follows the order of FIELD_VERSIONS; `format` names every field, those unknown to this
        version included: stored with each raw line, it keeps all of them readable.
        """
        where = {name: index for index, name in enumerate(self.fields, 1)}
        return {
            "format": " ".join(self.fields),
            "width": len(self.fields),
            "at": [where.get(name, ABSENT) for name in FIELD_VERSIONS],
        }


def read_format(first_line: bytes) -> FlowFormat:
    """The format of a file from its first line: a header, or a default-format record.

    Raises BadHeader for anything else (the object fails: no line of it can be read safely), and
    TransitGatewayLog for a Transit Gateway flow log.
    """
    try:
        text = first_line.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise BadHeader(f"the first line is not text: {exc}") from exc
    tokens = text.split()
    if not tokens:
        raise BadHeader("the first line is empty: no header")
    if _FIELD_NAME.match(tokens[0]):
        return FlowFormat(_header_fields(tokens), has_header=True)
    if len(tokens) == len(DEFAULT_FIELDS) and tokens[0].isdigit():
        return FlowFormat(DEFAULT_FIELDS, has_header=False)
    raise BadHeader(f"not a flow log header: {text[:200]!r}")


def _header_fields(tokens: list[str]) -> tuple[str, ...]:
    bad = [token for token in tokens if not _FIELD_NAME.match(token)]
    if bad:
        raise BadHeader(f"not a flow log header: bad field name {bad[0][:60]!r}")
    duplicated = sorted({token for token in tokens if tokens.count(token) > 1})
    if duplicated:
        raise BadHeader(f"field named twice in the header: {duplicated[0]}")
    if TRANSIT_GATEWAY_FIELDS.intersection(tokens):
        raise TransitGatewayLog("a Transit Gateway flow log (no interfaces or instances): not loaded")
    if "interface-id" not in tokens:
        raise BadHeader("the header has no interface-id field: not a VPC flow log")
    return tuple(tokens)


@dataclass(frozen=True)
class FileName:
    """What a delivered file's name says: the flow log it came from and when it was published."""

    flow_log_id: str = ""
    delivered_at: datetime | None = None


def file_name(key: str) -> FileName:
    match = _FILE_NAME.search(key.rsplit("/", 1)[-1])
    if not match:
        return FileName()
    return FileName(match.group(1), datetime.strptime(match.group(2), "%Y%m%dT%H%MZ").replace(tzinfo=UTC))


@dataclass(frozen=True)
class LineChunk:
    """Whole lines of a file: `first_line` is the file line number of the first one (1-based)."""

    index: int
    first_line: int
    data: bytes
    lines: int


def split_first_line(pieces: Iterator[bytes]) -> tuple[bytes, bytes]:
    """The first line of a stream (without its newline) and whatever was read after it."""
    buffered = b""
    for piece in pieces:
        buffered += piece
        end = buffered.find(b"\n")
        if end >= 0:
            return buffered[:end], buffered[end + 1 :]
        if len(buffered) > MAX_HEADER_BYTES:
            raise BadHeader(f"no line break in the first {MAX_HEADER_BYTES} bytes: not a flow log")
    return buffered, b""


def line_chunks(
    rest: bytes, pieces: Iterator[bytes], first_line: int, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[LineChunk]:
    """Cut a stream of text into chunks of at most about chunk_bytes, each ending at a line break.

    `rest` is what was read past the first line; `first_line` the number of the line it starts
    with. Memory stays bounded by the chunk size (plus one piece) whatever the size of the file.
    Pieces are joined once per chunk (flow volume makes every copy of the text count: measured).
    """
    cutter = _Cutter(first_line, chunk_bytes)
    held: list[bytes] = [rest] if rest else []
    size = len(rest)
    # Whether what is held has a line break: a line longer than a chunk (a bad file of one huge
    # line) is not joined again for every piece until a line break comes.
    breaks = b"\n" in rest
    for piece in pieces:
        held.append(piece)
        size += len(piece)
        breaks = breaks or b"\n" in piece
        if size < chunk_bytes or not breaks:
            continue
        left = yield from cutter.cut(b"".join(held))
        held, size, breaks = ([left], len(left), b"\n" in left) if left else ([], 0, False)
    left = yield from cutter.cut(b"".join(held))
    # Not left.strip(): that copies what is left (a whole chunk of text) to find a non-blank byte.
    if left and not left.isspace():
        count = left.count(b"\n") + (0 if left.endswith(b"\n") else 1)
        yield LineChunk(cutter.index, cutter.line, left, count)


@dataclass
class _Cutter:
    """Numbers the chunks and lines that line_chunks cuts."""

    line: int
    chunk_bytes: int
    index: int = 0

    def cut(self, buffered: bytes) -> Generator[LineChunk, None, bytes]:
        """Yield whole-line chunks of buffered while a full chunk is there; return the rest."""
        start = 0
        while len(buffered) - start >= self.chunk_bytes:
            cut = buffered.rfind(b"\n", start, start + self.chunk_bytes)
            if cut < 0:
                cut = buffered.find(b"\n", start + self.chunk_bytes)
                if cut < 0:
                    break
            data = buffered[start : cut + 1]
            start = cut + 1
            count = data.count(b"\n")
            yield LineChunk(self.index, self.line, data, count)
            self.index += 1
            self.line += count
        return buffered[start:]
