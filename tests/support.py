"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.retention import applied_retention, apply_retention


def truncate_all(store: Store) -> None:
    """Empty every data table and leave the retention at 0 (keep everything), as a fresh store."""
    for table in tables.DATA_TABLES:
        store.command(f"TRUNCATE TABLE IF EXISTS {table}")
    # store_meta was emptied too, so the applied retention reads as the migrations' default:
    # applying 0 removes whatever TTLs a test left (and skips tables that have none).
    apply_retention(store, 0)
    assert applied_retention(store) == 0
