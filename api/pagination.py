"""Opaque keyset cursors and the shared PageInfo type."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import strawberry

from api.errors import BadRequest


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


def encode_cursor(kind: str, *values: Any) -> str:
    payload = [kind, *[v.isoformat() if isinstance(v, datetime) else v for v in values]]
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


def decode_cursor(kind: str, cursor: str | None, arity: int) -> list[Any] | None:
    """The values of a cursor made by encode_cursor(kind, ...); a foreign or forged cursor is rejected."""
    if cursor is None:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest("invalid cursor") from exc
    if not isinstance(payload, list) or len(payload) != arity + 1 or payload[0] != kind:
        raise BadRequest("this cursor belongs to another list")
    return list(payload[1:])


# The range of ClickHouse's DateTime: a time outside it cannot be compared with stored events.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2106, 1, 1, tzinfo=UTC)


def storable_time(value: datetime, name: str) -> datetime:
    """`value` as an aware UTC-comparable time, or BadRequest when the store cannot hold it."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not EARLIEST <= aware < LATEST:
        raise BadRequest(f"`{name}` must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return aware


def cursor_time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
        return storable_time(parsed, "after")
    except (ValueError, BadRequest) as exc:
        raise BadRequest("invalid cursor") from exc


def page_size(first: int | None, default: int, maximum: int) -> int:
    size = default if first is None else first
    if size < 0:
        raise BadRequest("`first` must not be negative")
    if size > maximum:
        raise BadRequest(f"`first` is at most {maximum}")
    return size


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def open_scope(start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
    """A scope that defaults to everything retained, for reads bounded otherwise (by credentials,
    by interfaces): from the epoch to a day from now."""
    start = storable_time(start, "from") if start else EPOCH
    end = storable_time(end, "to") if end else datetime.now(UTC) + timedelta(days=1)
    if start >= end:
        raise BadRequest("`from` must be before `to`")
    return start, end
