"""Regenerate tests/data/schema.sql from the migrations, on a scratch embedded store."""

from __future__ import annotations

import tempfile
from pathlib import Path

from clickhouse import migrate
from clickhouse.client import Store
from clickhouse.retention import apply_retention
from clickhouse.settings import StoreSettings
from tests.support import SCHEMA_SNAPSHOT, schema_snapshot


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(StoreSettings(data_dir=Path(scratch)), database="roletrail_test")
        try:
            migrate.apply(store)
            apply_retention(store, 0)
            target = Path(__file__).resolve().parents[1] / SCHEMA_SNAPSHOT
            target.write_text(schema_snapshot(store))
            print(f"wrote {target}")
        finally:
            store.close()


if __name__ == "__main__":
    main()
