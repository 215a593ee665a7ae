"""Retention: ROLETRAIL_RETENTION_DAYS applied to the TTL of every event-like table.

This is the only DDL outside the migration files: the migrations create each table with the
default of 365 days, and this function moves the TTL to the configured value (or removes it for 0)
whenever the setting differs from what the store last applied.
"""

from __future__ import annotations

from datetime import UTC, datetime

from clickhouse import tables
from clickhouse.client import Store

_KEY = "retention_days"
_DEFAULT_IN_MIGRATIONS = 365


def applied_retention(store: Store) -> int:
    value = store.scalar(
        f"SELECT value FROM {tables.STORE_META} FINAL WHERE key = {{key:String}}", {"key": _KEY}
    )
    return int(value) if value is not None else _DEFAULT_IN_MIGRATIONS


def apply_retention(store: Store, days: int) -> bool:
    """Set the TTL of every retained table to `days` (0 removes it); returns True if anything changed."""
    if applied_retention(store) == days:
        return False
    for table, column in tables.RETAINED.items():
        if days == 0:
            # REMOVE TTL fails on a table without one: check first, so that this can be re-run.
            if _has_ttl(store, table):
                store.command(f"ALTER TABLE {table} REMOVE TTL")
        else:
            store.command(f"ALTER TABLE {table} MODIFY TTL {column} + toIntervalDay({int(days)})")
    store.insert(tables.STORE_META, [[_KEY, str(days), datetime.now(UTC)]], ["key", "value", "updated_at"])
    return True


def _has_ttl(store: Store, table: str) -> bool:
    create = store.scalar(
        "SELECT create_table_query FROM system.tables"
        " WHERE database = currentDatabase() AND name = {t:String}",
        {"t": table},
    )
    return " TTL " in str(create or "")
