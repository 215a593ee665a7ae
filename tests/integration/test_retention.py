"""Retention covers every table that declares the default TTL, including tables added later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.retention import apply_retention, parse_ttl, retained_tables

pytestmark = pytest.mark.clickhouse

LATER_TABLE = "flowlog_test_records"


def _ttl(store: Store, table: str) -> str:
    query = str(
        store.scalar(
            "SELECT create_table_query FROM system.tables"
            " WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
        )
    )
    ttl = parse_ttl(query)
    return f"{ttl.expression} + {ttl.days}" if ttl else ("other" if " TTL " in query else "none")


@pytest.fixture
def later_table(store: Store) -> Iterator[str]:
    """A table as another slice's migration would create it: the default TTL on a Date column."""
    store.command(
        f"""CREATE TABLE {LATER_TABLE} (day Date, flows UInt64) ENGINE = MergeTree
        PARTITION BY toYYYYMM(day) ORDER BY day TTL day + INTERVAL 365 DAY
        SETTINGS ttl_only_drop_parts = 1"""
    )
    try:
        yield LATER_TABLE
    finally:
        store.command(f"DROP TABLE IF EXISTS {LATER_TABLE}")
        apply_retention(store, 0)


def test_a_table_added_later_follows_the_retention_through_every_change(
    store: Store, later_table: str
) -> None:
    # Act: lower it, remove it (0), set it again
    apply_retention(store, 30)
    at_30 = _ttl(store, later_table)
    apply_retention(store, 0)
    at_0 = _ttl(store, later_table)
    apply_retention(store, 45)
    at_45 = _ttl(store, later_table)
    # Assert: covered each time, remembered after its TTL was removed
    assert (at_30, at_0, at_45) == ("day + 30", "none", "day + 45")
    assert retained_tables(store)[later_table] == "day"


def test_a_table_with_its_own_ttl_keeps_it(store: Store) -> None:
    # Act
    apply_retention(store, 30)
    try:
        rejects = _ttl(store, tables.INGEST_REJECTS)
        events = _ttl(store, tables.CLOUDTRAIL_EVENTS)
    finally:
        apply_retention(store, 0)
    # Assert
    assert rejects == "recorded_at + 90"
    assert events == "event_time + 30"
    assert tables.INGEST_REJECTS not in retained_tables(store)
