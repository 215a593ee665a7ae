"""Configured sources: from a TOML file (`ROLETRAIL_SOURCES_FILE`) or through the admin API.

A source is a bucket and prefix in the AWSLogs/ layout, optionally an SQS queue of notifications
for new objects, and how to reach them (profile, region, endpoint URL; empty = the standard AWS
configuration). The file is mirrored into `ingest_sources` (origin `file`) whenever a process
starts, so the API and every worker see the same list; sources added through the API have origin
`api`. A name in the file cannot be changed or deleted through the API.

    [[source]]
    name = "org-trail"
    bucket = "acme-org-trail"
    prefix = "AWSLogs/o-a1b2c3d4e5/"
    queue_url = "https://sqs.eu-west-1.amazonaws.com/111111111111/roletrail-trail"
    poll_interval_seconds = 300
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse import tables
from clickhouse.client import Store
from ingest import s3

FILE = "file"
API = "api"
_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_COLUMNS = (
    "name", "origin", "bucket", "prefix", "queue_url", "poll", "poll_interval_seconds", "profile", "region",
    "endpoint_url", "deleted", "updated_at",
)  # fmt: skip


class SourceError(ValueError):
    """A source definition that cannot be used (said in words a user can act on)."""


@dataclass(frozen=True)
class SourceConfig:
    name: str
    bucket: str
    prefix: str = ""
    queue_url: str = ""
    # Poll the day prefixes of today and yesterday (in addition to, or instead of, the queue).
    poll: bool = True
    poll_interval_seconds: int = 300
    profile: str = ""
    region: str = ""
    endpoint_url: str = ""
    origin: str = API

    @property
    def uri(self) -> str:
        return s3.uri_of(self.bucket, self.prefix)

    @property
    def connection(self) -> s3.Connection:
        return s3.Connection(self.profile, self.region, self.endpoint_url)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_source(data: object, origin: str = API) -> SourceConfig:
    """A source from JSON or TOML data; SourceError naming the problem when it is not usable."""
    if not isinstance(data, dict):
        raise SourceError("a source is an object with at least name and bucket")
    known = {f.name for f in fields(SourceConfig)} - {"origin"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SourceError(f"unknown source fields: {', '.join(unknown)}")
    name, bucket = data.get("name"), data.get("bucket")
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise SourceError("name must be 1-63 lowercase letters, digits, '.', '_' or '-'")
    if not isinstance(bucket, str) or not _BUCKET.fullmatch(bucket):
        raise SourceError(f"source {name}: bucket must be an S3 bucket name")
    values: dict[str, Any] = {"name": name, "bucket": bucket, "origin": origin}
    for key in ("prefix", "queue_url", "profile", "region", "endpoint_url"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise SourceError(f"source {name}: {key} must be a string")
        values[key] = value
    poll = data.get("poll", True)
    interval = data.get("poll_interval_seconds", 300)
    if not isinstance(poll, bool):
        raise SourceError(f"source {name}: poll must be true or false")
    if not isinstance(interval, int) or isinstance(interval, bool) or not 1 <= interval <= 86_400:
        raise SourceError(f"source {name}: poll_interval_seconds must be between 1 and 86400")
    if not poll and not values["queue_url"]:
        raise SourceError(f"source {name}: without polling, a queue_url is needed to follow it")
    return SourceConfig(**values, poll=poll, poll_interval_seconds=interval)


def load_file(path: Path) -> list[SourceConfig]:
    """The `[[source]]` tables of a TOML file; SourceError when it is unreadable or invalid."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SourceError(f"cannot read the sources file {path}: {exc}") from exc
    entries = data.get("source", [])
    if not isinstance(entries, list):
        raise SourceError(f"{path}: sources are [[source]] tables")
    sources = [parse_source(entry, FILE) for entry in entries]
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise SourceError(f"{path}: a source name is given twice")
    return sources


def stored_sources(store: Store) -> list[SourceConfig]:
    """Every configured source (file and API), in name order."""
    rows = store.rows(
        f"""SELECT name, bucket, prefix, queue_url, poll, poll_interval_seconds, profile, region,
            endpoint_url, origin
        FROM {tables.INGEST_SOURCES} FINAL WHERE NOT deleted ORDER BY name"""
    )
    return [
        SourceConfig(str(n), str(b), str(p), str(q), bool(po), int(i), str(pr), str(r), str(e), str(o))
        for n, b, p, q, po, i, pr, r, e, o in rows
    ]


def source_named(store: Store, name: str) -> SourceConfig | None:
    return next((s for s in stored_sources(store) if s.name == name), None)


def _write(store: Store, sources: list[SourceConfig], deleted: bool = False) -> None:
    now = datetime.now(UTC)
    rows = [
        [s.name, s.origin, s.bucket, s.prefix, s.queue_url, s.poll, s.poll_interval_seconds, s.profile,
         s.region, s.endpoint_url, deleted, now]
        for s in sources
    ]  # fmt: skip
    store.insert(tables.INGEST_SOURCES, rows, _COLUMNS)


def sync_file(store: Store, path: Path | None) -> list[SourceConfig]:
    """Mirror the sources file into the store (file sources gone from it are deleted)."""
    from_file = load_file(path) if path else []
    stored = {s.name: s for s in stored_sources(store)}
    clash = [s.name for s in from_file if s.name in stored and stored[s.name].origin == API]
    if clash:
        raise SourceError(f"sources defined both in the file and through the API: {', '.join(clash)}")
    gone = [s for s in stored.values() if s.origin == FILE and s.name not in {f.name for f in from_file}]
    _write(store, gone, deleted=True)
    _write(store, [s for s in from_file if stored.get(s.name) != s])
    return from_file


def save_source(store: Store, source: SourceConfig) -> None:
    """Add or replace a source through the API (never one that the file defines)."""
    existing = source_named(store, source.name)
    if existing is not None and existing.origin == FILE:
        raise SourceError(f"source {source.name} is defined in the sources file: change it there")
    _write(store, [replace(source, origin=API)])


def delete_source(store: Store, name: str) -> bool:
    existing = source_named(store, name)
    if existing is None:
        return False
    if existing.origin == FILE:
        raise SourceError(f"source {name} is defined in the sources file: remove it there")
    _write(store, [existing], deleted=True)
    return True


def connect(sources: list[SourceConfig]) -> None:
    """Make each source's bucket reachable through its own profile, region and endpoint."""
    for source in sources:
        s3.use_connection(source.bucket, source.connection)
