"""Where objects come from: classifying log object keys and reading their bytes as a stream.

An object is named by a URI (an absolute path for the local source). Its kind is told from the
AWS delivery layout (`AWSLogs/[o-…/]<account>/<service>/<region>/…`) and its file name; bytes
are read in bounded pieces and gunzipped on the fly, so memory does not grow with object size.
"""

from __future__ import annotations

import hashlib
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

READ_BYTES = 4 * 1024 * 1024
_GUNZIP_STEP = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_ACCOUNT = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/")
_REGION = re.compile(r"/(?:CloudTrail|vpcflowlogs|GuardDuty)/([a-z]{2}(?:-[a-z]+)+-\d)/")
_JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")


class LogType(StrEnum):
    CLOUDTRAIL = "cloudtrail"
    CLOUDTRAIL_DIGEST = "cloudtrail-digest"
    CLOUDTRAIL_INSIGHT = "cloudtrail-insight"
    FLOWLOGS = "vpcflowlogs"
    GUARDDUTY = "guardduty"
    UNSUPPORTED = "unsupported"


# Kinds recognised but not loaded by this version: counted as skipped, never as errors.
NOT_LOADED = frozenset(
    {LogType.CLOUDTRAIL_DIGEST, LogType.CLOUDTRAIL_INSIGHT, LogType.FLOWLOGS, LogType.GUARDDUTY, LogType.UNSUPPORTED}
)


class CorruptObject(Exception):
    """The object's bytes cannot be read to the end (a broken gzip stream)."""


@dataclass(frozen=True)
class ObjectRef:
    """A reference to one object: what a queue message carries, never the bytes."""

    source: str
    uri: str
    size: int
    log_type: LogType
    account_id: str = ""
    region: str = ""

    @property
    def object_id(self) -> str:
        return hashlib.sha256(f"{self.source}:{self.uri}".encode()).hexdigest()[:32]


def classify(key: str) -> LogType:
    """The log type of an object from its key or path, following the AWS delivery layout."""
    name = key.rsplit("/", 1)[-1]
    if "/CloudTrail-Digest/" in key or "_CloudTrail-Digest_" in name:
        return LogType.CLOUDTRAIL_DIGEST
    if "/CloudTrail-Insight/" in key or "_CloudTrail-Insight_" in name:
        return LogType.CLOUDTRAIL_INSIGHT
    if "/vpcflowlogs/" in key or "_vpcflowlogs_" in name:
        return LogType.FLOWLOGS
    if "/GuardDuty/" in key:
        return LogType.GUARDDUTY
    if name.lower().endswith(_JSON_SUFFIXES):
        return LogType.CLOUDTRAIL
    return LogType.UNSUPPORTED


def account_of(key: str) -> str:
    match = _ACCOUNT.search(key)
    return match.group(1) if match else ""


def region_of(key: str) -> str:
    match = _REGION.search(key)
    return match.group(1) if match else ""


def file_ref(path: Path) -> ObjectRef:
    uri = str(path.resolve())
    return ObjectRef("file", uri, path.stat().st_size, classify(uri), account_of(uri), region_of(uri))


def walk(root: Path) -> Iterator[ObjectRef]:
    """Every regular file under root (or root itself), in a stable order, hidden entries skipped."""
    if root.is_file():
        yield file_ref(root)
        return
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if not name.startswith("."):
                yield file_ref(Path(directory) / name)


@dataclass
class ByteStream:
    """Reads an object in pieces, gunzipping when it is gzip, hashing the stored bytes as it goes."""

    path: Path
    sha256: hashlib._Hash = field(default_factory=hashlib.sha256)
    compressed: bool = False
    bytes_read: int = 0

    def pieces(self) -> Iterator[bytes]:
        with self.path.open("rb") as handle:
            first = handle.read(READ_BYTES)
            self.compressed = first.startswith(_GZIP_MAGIC)
            raw = self._raw(handle, first)
            yield from (self._gunzip(raw) if self.compressed else raw)

    def _raw(self, handle: object, first: bytes) -> Iterator[bytes]:
        block = first
        read = getattr(handle, "read")  # noqa: B009 - any binary file object
        while block:
            self.sha256.update(block)
            self.bytes_read += len(block)
            yield block
            block = read(READ_BYTES)

    @staticmethod
    def _gunzip(raw: Iterator[bytes]) -> Iterator[bytes]:
        decompressor = zlib.decompressobj(wbits=31)
        fed = False
        try:
            for stored in raw:
                # Small steps: when zlib fails, only the output of the failing step is lost.
                for offset in range(0, len(stored), _GUNZIP_STEP):
                    block = stored[offset : offset + _GUNZIP_STEP]
                    while block:
                        fed = True
                        out = decompressor.decompress(block)
                        if out:
                            yield out
                        block = b""
                        if decompressor.eof:
                            # Concatenated gzip members are one stream, as gzip(1) reads them.
                            block = decompressor.unused_data
                            decompressor = zlib.decompressobj(wbits=31)
                            fed = False
        except zlib.error as exc:
            raise CorruptObject(f"corrupt gzip stream: {exc}") from exc
        if fed and not decompressor.eof:
            raise CorruptObject("gzip stream ends early (truncated file)")
