"""The S3 source: objects named `s3://bucket/key`, read with boto3, listed by date prefix.

Credentials, region and endpoint come from the standard AWS configuration (environment, shared
config and credentials files, profiles, `AWS_ENDPOINT_URL[_S3|_SQS]`, instance and task roles);
a configured source may name a profile, a region and an endpoint URL of its own (an S3-compatible
store), registered per bucket with `use_connection`.

Listing follows the delivery layout `<prefix>AWSLogs/[o-…/]<account>/<service>/<region>/YYYY/MM/DD/`:
a walk with the `/` delimiter finds the streams (account, service, region) and then only the day
prefixes of the wanted time range are listed, never the whole bucket.

Checksum (duplicate detection): `etag:<ETag>:<size>` from one HEAD request, so an object is not
read twice. A single-part upload's ETag is the MD5 of its bytes; a multipart ETag (`…-N`) hashes
the parts' MD5s and an SSE-KMS ETag is opaque, so the same bytes uploaded differently get another
ETag: such a copy is not recognised as a duplicate and is loaded again, and the tables' record-level
deduplication (recipient account, eventID) still counts its records once. Two different contents
never share an ETag in practice, so nothing is wrongly skipped.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, BinaryIO, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ingest.sources import ObjectRef, account_of, classify, region_of, register_source

S3_SOURCE = "s3"
SCHEME = "s3://"
# Folders of the delivery layout worth listing: trails, flow logs, GuardDuty exports. Digest and
# Insights folders hold nothing this version loads, so they are not listed at all.
LOADED_SERVICES = ("CloudTrail", "vpcflowlogs", "GuardDuty")
_ACCOUNT_DIR = re.compile(r"^\d{12}/$")
_ORG_DIR = re.compile(r"^o-[a-z0-9]+/$")
_REGION_DIR = re.compile(r"^[a-z]{2}(?:-[a-z]+)+-\d/$")
_SEARCH_DEPTH = 3
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED = {"403", "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch"}


@dataclass(frozen=True)
class Connection:
    """How to reach a bucket: empty fields fall back to the standard AWS configuration."""

    profile: str = ""
    region: str = ""
    endpoint_url: str = ""


@dataclass(frozen=True)
class Listed:
    key: str
    size: int
    etag: str


class _Clients:
    """boto3 clients per connection and service (clients are thread-safe; sessions are not)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[tuple[Connection, str], Any] = {}
        self.by_bucket: dict[str, Connection] = {}

    def get(self, connection: Connection, service: str) -> Any:
        with self._lock:
            client = self._clients.get((connection, service))
            if client is None:
                session = boto3.session.Session(profile_name=connection.profile or None)
                client = session.client(
                    service,
                    region_name=connection.region or None,
                    endpoint_url=connection.endpoint_url or None,
                    config=Config(retries={"mode": "standard", "max_attempts": 5}, max_pool_connections=32),
                )
                self._clients[(connection, service)] = client
            return client


_clients = _Clients()


def use_connection(bucket: str, connection: Connection) -> None:
    """Reach `bucket` through `connection` (a configured source's profile, region, endpoint)."""
    with _clients._lock:
        _clients.by_bucket[bucket] = connection


def connection_of(bucket: str) -> Connection:
    return _clients.by_bucket.get(bucket, Connection())


def client(connection: Connection, service: str = "s3") -> Any:
    """A boto3 client for `service` ("s3", "sqs") on the connection."""
    return _clients.get(connection, service)


def uri_of(bucket: str, key: str) -> str:
    return f"{SCHEME}{bucket}/{key}"


def split_uri(uri: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an `s3://bucket/key` URI; ValueError when it is not one."""
    if not uri.startswith(SCHEME) or not uri[len(SCHEME) :].split("/", 1)[0]:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    bucket, _, key = uri[len(SCHEME) :].partition("/")
    return bucket, key


def ref_of(bucket: str, key: str, size: int) -> ObjectRef:
    return ObjectRef(S3_SOURCE, uri_of(bucket, key), size, classify(key), account_of(key), region_of(key))


def as_os_error(exc: Exception, what: str) -> OSError:
    """A boto error as the OSError the loader records: missing, refused, or unreachable."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _NOT_FOUND:
            return FileNotFoundError(f"{what}: not found ({code})")
        if code in _DENIED:
            return PermissionError(f"{what}: access denied ({code})")
    return OSError(f"{what}: {exc}")


class _Body:
    """An object's body as a binary file whose read errors are OSErrors (the loader records them)."""

    def __init__(self, body: Any, uri: str) -> None:
        self._body = body
        self._uri = uri

    def read(self, size: int = -1) -> bytes:
        try:
            data: bytes = self._body.read(size if size >= 0 else None)
            return data
        except (BotoCoreError, ClientError, ValueError) as exc:
            raise as_os_error(exc, self._uri) from exc

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


# -- prefetch: the GETs of a load message run in parallel ---------------------------------------------

# One GET is a round trip (tens of ms on S3, more across regions); a message loads up to 200 small
# objects, so they are fetched concurrently before the loader reads them one by one. Memory is
# bounded by the message (ingest.actors.BATCH_BYTES of stored bytes); large objects still stream.
PREFETCH_MAX_BYTES = 4 * 1024 * 1024
PREFETCH_THREADS = 16
_prefetched: dict[str, tuple[bytes, str]] = {}
_prefetch_lock = threading.Lock()


def prefetch(refs: Iterable[ObjectRef]) -> None:
    """Fetch the small S3 objects among refs concurrently; `open_s3` and the checksum use them
    (a failed fetch is left to the normal path, which records the error). Call `release` after."""
    small = [r for r in refs if r.source == S3_SOURCE and r.size <= PREFETCH_MAX_BYTES]
    if not small:
        return
    with ThreadPoolExecutor(min(PREFETCH_THREADS, len(small)), thread_name_prefix="s3-get") as pool:
        list(pool.map(_fetch, small))


def _fetch(ref: ObjectRef) -> None:
    bucket, key = split_uri(ref.uri)
    try:
        response = client(connection_of(bucket)).get_object(Bucket=bucket, Key=key)
        data = response["Body"].read()
    except (BotoCoreError, ClientError, ValueError):
        return
    etag = f"etag:{str(response['ETag']).strip(chr(34))}:{len(data)}"
    with _prefetch_lock:
        _prefetched[ref.uri] = (data, etag)


def release(refs: Iterable[ObjectRef]) -> None:
    with _prefetch_lock:
        for ref in refs:
            _prefetched.pop(ref.uri, None)


def _cached(uri: str) -> tuple[bytes, str] | None:
    with _prefetch_lock:
        return _prefetched.get(uri)


def open_s3(ref: ObjectRef) -> BinaryIO:
    cached = _cached(ref.uri)
    if cached is not None:
        return io.BytesIO(cached[0])
    bucket, key = split_uri(ref.uri)
    try:
        response = client(connection_of(bucket)).get_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise as_os_error(exc, ref.uri) from exc
    return cast(BinaryIO, _Body(response["Body"], ref.uri))


def etag_checksum(ref: ObjectRef) -> str:
    cached = _cached(ref.uri)
    if cached is not None:
        return cached[1]
    bucket, key = split_uri(ref.uri)
    try:
        head = client(connection_of(bucket)).head_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise as_os_error(exc, ref.uri) from exc
    etag = str(head["ETag"]).strip('"')
    return f"etag:{etag}:{int(head['ContentLength'])}"


register_source(S3_SOURCE, open_s3, etag_checksum)


# -- listing ----------------------------------------------------------------------------------------


def list_objects(bucket: str, prefix: str, start_after: str = "") -> Iterator[Listed]:
    """Every object under prefix, in key order, one page (1,000 keys) in memory at a time."""
    s3 = client(connection_of(bucket))
    arguments: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
    if start_after:
        arguments["StartAfter"] = start_after
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(**arguments):
            for item in page.get("Contents", ()):
                yield Listed(str(item["Key"]), int(item["Size"]), str(item.get("ETag", "")).strip('"'))
    except (BotoCoreError, ClientError) as exc:
        raise as_os_error(exc, uri_of(bucket, prefix)) from exc


def child_prefixes(bucket: str, prefix: str) -> list[str]:
    """The names of the folders directly under prefix (`name/`), sorted."""
    s3 = client(connection_of(bucket))
    found: list[str] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/"):
            found += [str(p["Prefix"])[len(prefix) :] for p in page.get("CommonPrefixes", ())]
    except (BotoCoreError, ClientError) as exc:
        raise as_os_error(exc, uri_of(bucket, prefix)) from exc
    return sorted(found)


def stream_prefixes(bucket: str, prefix: str, services: tuple[str, ...] = LOADED_SERVICES) -> Iterator[str]:
    """Every `…AWSLogs/[o-…/]<account>/<service>/<region>/` prefix at or under `prefix`.

    `prefix` may stop anywhere above the region folder (the bucket root, a folder holding
    `AWSLogs/`, an organisation, an account); a prefix inside a region folder is its own stream.
    """
    yield from _walk(bucket, _folder(prefix), services, 0)


def _folder(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _stage(prefix: str) -> str:
    parts = prefix.rstrip("/").split("/") if prefix else []
    if "AWSLogs" not in parts:
        return "above"
    below = parts[len(parts) - 1 - parts[::-1].index("AWSLogs") + 1 :]
    if below and below[0].startswith("o-"):
        below = below[1:]
        if not below:
            return "accounts"
    return ("accounts", "services", "regions", "stream")[min(len(below), 3)]


def _walk(bucket: str, prefix: str, services: tuple[str, ...], depth: int) -> Iterator[str]:
    stage = _stage(prefix)
    if stage == "stream":
        yield prefix
        return
    children = child_prefixes(bucket, prefix)
    if stage == "above":
        if "AWSLogs/" in children:
            yield from _walk(bucket, prefix + "AWSLogs/", services, depth)
        elif depth < _SEARCH_DEPTH:
            for child in children:
                yield from _walk(bucket, prefix + child, services, depth + 1)
        return
    for child in children:
        if stage == "regions":
            if _REGION_DIR.match(child):
                yield prefix + child
        elif _wanted(stage, child, services):
            yield from _walk(bucket, prefix + child, services, depth)


def _wanted(stage: str, child: str, services: tuple[str, ...]) -> bool:
    if stage == "accounts":
        return bool(_ACCOUNT_DIR.match(child) or _ORG_DIR.match(child))
    return child.rstrip("/") in services


def day_prefix(stream: str, day: date) -> str:
    return f"{stream}{day:%Y/%m/%d}/"


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def refs_for_days(bucket: str, stream: str, first: date, last: date) -> Iterator[ObjectRef]:
    """The objects of one stream delivered on the days first..last (one listing per day)."""
    for day in days(first, last):
        for item in list_objects(bucket, day_prefix(stream, day)):
            if not item.key.endswith("/"):
                yield ref_of(bucket, item.key, item.size)


def walk_uri(uri: str) -> Iterator[ObjectRef]:
    """Every object under an `s3://bucket/prefix` URI (a full listing of that prefix)."""
    bucket, prefix = split_uri(uri)
    for item in list_objects(bucket, prefix):
        if not item.key.endswith("/"):
            yield ref_of(bucket, item.key, item.size)


def head_ref(bucket: str, key: str) -> ObjectRef:
    """A ref for one named object (its size from a HEAD request)."""
    try:
        head = client(connection_of(bucket)).head_object(Bucket=bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        raise as_os_error(exc, uri_of(bucket, key)) from exc
    return ref_of(bucket, key, int(head["ContentLength"]))
