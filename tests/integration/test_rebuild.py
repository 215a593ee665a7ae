"""Derived tables rebuilt from stored events, and records reloaded after the retention is raised."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse import rebuild, tables
from clickhouse.client import Store
from clickhouse.retention import apply_retention
from ingest.load import LOADED, PARTIAL, Loader
from ingest.sources import file_ref, walk
from tests.integration.test_load import call, sessions, trail_path, write_trail

pytestmark = pytest.mark.clickhouse


def _issuances(store: Store) -> list[tuple[str, ...]]:
    rows = store.rows(
        f"""SELECT access_key_id, credential_kind, role_arn, caller_arn, caller_session_key
        FROM {tables.CLOUDTRAIL_ISSUANCES} FINAL ORDER BY access_key_id"""
    )
    return [tuple(str(v) for v in row) for row in rows]


def test_rebuild_refills_derived_tables_exactly(store: Store, loader: Loader, data_dir: Path) -> None:
    # Arrange: the incident fixture loaded, then its derived tables lost (as for a feature added later)
    loader.load_many(list(walk(data_dir / "cloudtrail")))
    before = (sessions(store), _issuances(store))
    assert before[0]
    assert before[1]
    for table in tables.DERIVED_FROM_EVENTS:
        store.command(f"TRUNCATE TABLE {table}")
    # Act
    partitions = rebuild.rebuild(store)
    # Assert: the same sessions and issuances, and the events are not doubled
    assert partitions >= 1
    assert (sessions(store), _issuances(store)) == before
    assert store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}") == store.scalar(
        f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS} FINAL"
    )


def test_rebuild_twice_gives_the_same_answers(store: Store, loader: Loader, data_dir: Path) -> None:
    # Arrange
    loader.load_many(list(walk(data_dir / "cloudtrail")))
    rebuild.rebuild(store)
    first = (sessions(store), _issuances(store))
    # Act
    rebuild.rebuild(store)
    # Assert
    assert (sessions(store), _issuances(store)) == first


def test_records_older_than_the_retention_load_after_it_is_raised(store: Store, tmp_path: Path) -> None:
    # Arrange: a 2024 file loaded under a 30-day retention keeps nothing and says so
    path = write_trail(trail_path(tmp_path, "old"), [call(n) for n in range(3)])
    ref = file_ref(path)
    apply_retention(store, 30)
    try:
        first = Loader(store, 30).load(ref)
        assert (first.records_loaded, first.records_expired) == (0, 3)
        assert Loader(store, 30).done([ref]) == {ref.object_id}
        # Act: the retention is raised to keep everything, and the same object is loaded again
        apply_retention(store, 0)
        raised = Loader(store, 0)
        due = raised.done([ref])
        second = raised.load(ref)
    finally:
        apply_retention(store, 0)
    # Assert
    assert due == set()
    assert second.status in (LOADED, PARTIAL)
    assert (second.records_loaded, second.records_expired) == (3, 0)
    assert sessions(store)["ASIAEXAMPLECALLER001"][0] == 3


def test_operator_exports_load_into_the_directory_tables(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: exports dropped among the logs, one account entry unusable
    (tmp_path / "accounts.json").write_text(
        '{"Accounts": [{"Id": "111122223333", "Name": "production", "Status": "ACTIVE"}, {"Name": "x"}]}'
    )
    (tmp_path / "users.json").write_text(
        '{"Users": [{"UserId": "u-1", "UserName": "erin@example.com", "IdentityStoreId": "d-1"}]}'
    )
    # Act
    results = {Path(r.uri).name: r for r in loader.load_many(list(walk(tmp_path)))}
    # Assert
    accounts = results["accounts.json"]
    assert (accounts.status, accounts.records_read, accounts.records_loaded, accounts.records_bad) == (
        PARTIAL,
        2,
        1,
        1,
    )
    assert (results["users.json"].status, results["users.json"].records_loaded) == (LOADED, 1)
    assert store.rows(f"SELECT account_id, name FROM {tables.DIRECTORY_ACCOUNTS} FINAL") == [
        ("111122223333", "production")
    ]
    assert store.rows(f"SELECT user_id, user_name FROM {tables.DIRECTORY_IDENTITY_CENTER_USERS} FINAL") == [
        ("u-1", "erin@example.com")
    ]
