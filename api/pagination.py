"""Opaque keyset cursors and the shared PageInfo type."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
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


def cursor_time(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise BadRequest("invalid cursor") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def page_size(first: int | None, default: int, maximum: int) -> int:
    size = default if first is None else first
    if size < 0:
        raise BadRequest("`first` must not be negative")
    if size > maximum:
        raise BadRequest(f"`first` is at most {maximum}")
    return size
