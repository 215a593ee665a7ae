"""Where objects come from: classifying log object keys and reading their bytes as a stream.

An object is named by a URI (an absolute path for the local source). Its kind is told from the
AWS delivery layout (`AWSLogs/[o-…/]<account>/<service>/<region>/…`) and its file name; bytes
are read in bounded pieces and gunzipped on the fly, so memory does not grow with object size.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, cast

from zlib_ng import zlib_ng

READ_BYTES = 4 * 1024 * 1024
_GUNZIP_STEP = 64 * 1024
_REPLAY_STEP = 256
_GZIP_MAGIC = b"\x1f\x8b"
_ACCOUNT = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(?:aws-account-id=)?(\d{12})/")
_REGION = re.compile(
    r"/(?:(?:CloudTrail|vpcflowlogs|GuardDuty)/|aws-service=vpcflowlogs/aws-region=)([a-z]{2}(?:-[a-z]+)+-\d)/"
)
_JSON_SUFFIXES = (".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz")

# zlib-ng's type stubs leave out its exception class and Decompress.copy (both exist: tested).
_ZLIB_ERROR = cast(type[Exception], zlib_ng.error)


class LogType(StrEnum):
    CLOUDTRAIL = "cloudtrail"
    CLOUDTRAIL_DIGEST = "cloudtrail-digest"
    CLOUDTRAIL_INSIGHT = "cloudtrail-insight"
    FLOWLOGS = "vpcflowlogs"
    GUARDDUTY = "guardduty"
    UNSUPPORTED = "unsupported"


# Kinds recognised but not loaded by this version: counted as skipped, never as errors.
NOT_LOADED = frozenset(
    {
        LogType.CLOUDTRAIL_DIGEST,
        LogType.CLOUDTRAIL_INSIGHT,
        LogType.UNSUPPORTED,
    }
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


_LAYOUT = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?\d{12}/([^/]+)/")


def classify(key: str) -> LogType:
    """The log type of an object from its key or path, following the AWS delivery layout.

    Inside `AWSLogs/[o-…/]<account>/<service>/` the service folder decides; folders above the
    layout (a case folder named GuardDuty, say) never do. Outside the layout, the file name does.
    """
    name = key.rsplit("/", 1)[-1]
    layout = _LAYOUT.search(key)
    service = layout.group(1) if layout else ""
    if service == "CloudTrail-Digest" or "_CloudTrail-Digest_" in name:
        return LogType.CLOUDTRAIL_DIGEST
    if service == "CloudTrail-Insight" or "_CloudTrail-Insight_" in name:
        return LogType.CLOUDTRAIL_INSIGHT
    # Flow logs delivered with Hive-compatible prefixes: AWSLogs/aws-account-id=…/aws-service=vpcflowlogs/…
    if service == "vpcflowlogs" or "_vpcflowlogs_" in name or "/aws-service=vpcflowlogs/" in key:
        return LogType.FLOWLOGS
    if service == "GuardDuty":
        return LogType.GUARDDUTY
    if service and service != "CloudTrail":
        return LogType.UNSUPPORTED
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


def file_sha256(path: Path) -> str:
    """The sha256 of a file's stored bytes, read in bounded pieces."""
    with path.open("rb") as handle:
        return _sha256_of(handle)


def _sha256_of(handle: BinaryIO) -> str:
    digest = hashlib.sha256()
    while block := handle.read(READ_BYTES):
        digest.update(block)
    return digest.hexdigest()


# -- sources: how to open an object named by a ref -------------------------------------------------

Opener = Callable[[ObjectRef], BinaryIO]
Checksum = Callable[[ObjectRef], str]


def _open_file(ref: ObjectRef) -> BinaryIO:
    return Path(ref.uri).open("rb")


def _stored_sha256(ref: ObjectRef) -> str:
    with open_object(ref) as handle:
        return _sha256_of(handle)


_OPENERS: dict[str, tuple[Opener, Checksum]] = {"file": (_open_file, _stored_sha256)}


def register_source(source: str, opener: Opener, checksum: Checksum = _stored_sha256) -> None:
    """Teach the loader to read objects of another source (`ObjectRef.source`), e.g. S3.

    `checksum` names the stored bytes (duplicate detection); by default it is their sha256.
    """
    _OPENERS[source] = (opener, checksum)


def _source(ref: ObjectRef) -> tuple[Opener, Checksum]:
    try:
        return _OPENERS[ref.source]
    except KeyError:
        raise ValueError(f"no reader for objects of source {ref.source!r}") from None


def open_object(ref: ObjectRef) -> BinaryIO:
    """The object's stored bytes, as a binary file object (close it)."""
    return _source(ref)[0](ref)


def object_checksum(ref: ObjectRef) -> str:
    return _source(ref)[1](ref)


def object_stream(ref: ObjectRef) -> ByteStream:
    return ByteStream(lambda: open_object(ref))


@dataclass
class ByteStream:
    """Reads an object in pieces, gunzipping when it is gzip, counting the stored bytes.

    `source` is a path or a function that opens the object.
    """

    source: Path | Callable[[], BinaryIO]
    compressed: bool = False
    bytes_read: int = 0

    def pieces(self) -> Iterator[bytes]:
        opened = self.source.open("rb") if isinstance(self.source, Path) else self.source()
        with opened as handle:
            first = handle.read(READ_BYTES)
            self.compressed = first.startswith(_GZIP_MAGIC)
            raw = self._raw(handle, first)
            yield from (self._gunzip(raw) if self.compressed else raw)

    def _raw(self, handle: object, first: bytes) -> Iterator[bytes]:
        block = first
        read = getattr(handle, "read")  # noqa: B009 - any binary file object
        while block:
            self.bytes_read += len(block)
            yield block
            block = read(READ_BYTES)

    @staticmethod
    def _gunzip(raw: Iterator[bytes]) -> Iterator[bytes]:
        state = _Gunzip()
        for stored in raw:
            yield from state.feed(stored)
        if state.fed and not state.decompressor.eof:
            raise CorruptObject("gzip stream ends early (truncated file)")


class _Gunzip:
    """Incremental gunzip of concatenated members that gives up as little as possible on damage.

    zlib returns nothing from a call that fails, so a failing step is replayed from a copy of the
    state before it, in small steps, to yield everything that decodes before the damage.
    """

    def __init__(self) -> None:
        self.decompressor = zlib_ng.decompressobj(wbits=31)
        self.fed = False

    def feed(self, stored: bytes) -> Iterator[bytes]:
        for offset in range(0, len(stored), _GUNZIP_STEP):
            step = stored[offset : offset + _GUNZIP_STEP]
            saved = self.decompressor.copy()  # type: ignore[attr-defined]
            try:
                out = list(self._decompress(step))
            except _ZLIB_ERROR:
                self.decompressor = saved
                yield from self._replay(step)
                raise AssertionError("unreachable: the replay raises") from None
            yield from out

    def _replay(self, step: bytes) -> Iterator[bytes]:
        for offset in range(0, len(step), _REPLAY_STEP):
            try:
                out = list(self._decompress(step[offset : offset + _REPLAY_STEP]))
            except _ZLIB_ERROR as exc:
                raise CorruptObject(f"corrupt gzip stream: {exc}") from exc
            yield from out
        raise CorruptObject("corrupt gzip stream")

    def _decompress(self, block: bytes) -> Iterator[bytes]:
        while block:
            self.fed = True
            out = self.decompressor.decompress(block)
            if out:
                yield out
            block = b""
            if self.decompressor.eof:
                # Concatenated gzip members are one stream, as gzip(1) reads them.
                block = self.decompressor.unused_data
                self.decompressor = zlib_ng.decompressobj(wbits=31)
                self.fed = False
