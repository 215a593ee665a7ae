"""A snapshot of every table and view the migrations create: schema changes are seen in review."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse.client import Store
from tests.support import SCHEMA_SNAPSHOT, schema_snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.clickhouse
def test_the_schema_matches_its_snapshot(store: Store) -> None:
    # Act
    current = schema_snapshot(store)
    # Assert
    expected = (ROOT / SCHEMA_SNAPSHOT).read_text()
    assert current == expected, (
        f"the schema differs from {SCHEMA_SNAPSHOT}; after reviewing the migration, regenerate it with "
        "`.venv/bin/python -m tests.write_schema_snapshot`"
    )
