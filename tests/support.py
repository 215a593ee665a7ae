"""Helpers shared by test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import re

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


SCHEMA_SNAPSHOT = "tests/data/schema.sql"


def schema_snapshot(store: Store) -> str:
    """SHOW CREATE of every table and view of the store's database, TTL left out (it follows the
    retention setting), database name removed, in name order."""
    names = [
        str(row[0])
        for row in store.rows(
            "SELECT name FROM system.tables WHERE database = currentDatabase() "
            "AND name != {ledger:String} ORDER BY name",
            {"ledger": tables.SCHEMA_MIGRATIONS},
        )
    ]
    parts = []
    for name in names:
        create = str(store.scalar(f"SHOW CREATE TABLE `{name}`"))
        create = create.replace(f"{store.database}.", "")
        create = re.sub(r"\nTTL [^\n]*", "", create)
        parts.append(create.strip() + ";\n")
    return "\n".join(parts)
