"""Claims: one process at a time may enqueue an object, or run a source's poll.

Several workers discover the same objects (two polls of one source, a backfill resumed while its
old messages are still queued, a notification for an object a poll also saw). Before an object is
enqueued for loading it is claimed under its load id; a claim held by someone else means the
object is already on its way, so it is not enqueued twice. The load actor releases the claim when
the object is in the ledger (from then on the ledger says it is done); a claim whose holder died
expires after the load time limit, so nothing stays blocked.

With Redis (the distributed setup) claims are Redis keys (`SET NX EX`), shared by every worker
process; without it (embedded, one process) they live in memory.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from typing import Protocol

import redis

_PREFIX = "roletrail:claim:"


class Claims(Protocol):
    def claim(self, keys: Iterable[str], seconds: int) -> set[str]:
        """Claim each key for `seconds`; returns the keys this call obtained."""

    def release(self, keys: Iterable[str]) -> None:
        """Give keys back (the object is in the ledger now, or its enqueue failed)."""


class MemoryClaims:
    """Claims of one process (embedded mode)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until: dict[str, float] = {}

    def claim(self, keys: Iterable[str], seconds: int) -> set[str]:
        now = time.monotonic()
        got: set[str] = set()
        with self._lock:
            for key in keys:
                if self._until.get(key, 0.0) <= now:
                    self._until[key] = now + seconds
                    got.add(key)
        return got

    def release(self, keys: Iterable[str]) -> None:
        with self._lock:
            for key in keys:
                self._until.pop(key, None)


class RedisClaims:
    """Claims shared through Redis by every worker process (distributed mode)."""

    def __init__(self, url: str) -> None:
        self._redis = redis.Redis.from_url(url)
        self._holder = uuid.uuid4().hex

    def claim(self, keys: Iterable[str], seconds: int) -> set[str]:
        ordered = list(dict.fromkeys(keys))
        if not ordered:
            return set()
        pipe = self._redis.pipeline(transaction=False)
        for key in ordered:
            pipe.set(_PREFIX + key, self._holder, nx=True, ex=max(1, seconds))
        return {key for key, ok in zip(ordered, pipe.execute(), strict=True) if ok}

    def release(self, keys: Iterable[str]) -> None:
        names = [_PREFIX + key for key in keys]
        if names:
            self._redis.delete(*names)

    def close(self) -> None:
        self._redis.close()


def claims_for(redis_url: str) -> Claims:
    """Redis claims when a Redis URL is configured, else in-memory claims."""
    return RedisClaims(redis_url) if redis_url else MemoryClaims()
