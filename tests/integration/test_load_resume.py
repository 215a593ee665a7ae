"""A load cut short (a crash after its rows were inserted, before its ledger row) and loaded again
in another batch: the ledger counts each record once, with no reconciliation problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse import tables
from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.integration.test_load import call, trail_path, write_trail

pytestmark = pytest.mark.clickhouse


def test_an_object_whose_load_was_cut_short_is_counted_once_when_loaded_again(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: the object's records went in, then the process died before the ledger row
    first = file_ref(write_trail(trail_path(tmp_path, "a"), [call(n) for n in range(5)]))
    other = file_ref(
        write_trail(trail_path(tmp_path, "b"), [call(n, key="ASIAEXAMPLECALLER002") for n in range(10, 12)])
    )
    loader.load(first)
    store.command(f"TRUNCATE TABLE {tables.INGEST_OBJECTS}")
    # Act: loaded again, now in a batch with another object (another insert, another token)
    results = loader.load_many([first, other])
    # Assert
    assert [(r.status, r.records_read, r.records_loaded, r.message) for r in results] == [
        (LOADED, 5, 5, ""),
        (LOADED, 2, 2, ""),
    ]
    rows = store.rows(f"SELECT uri, load_id FROM {tables.INGEST_OBJECTS} FINAL ORDER BY uri")
    assert rows[0][1] != loader.load_id(first)  # a fresh load id: the residue is not counted
    assert rows[1][1] == loader.load_id(other)
    assert store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS} FINAL") == 7
