"""The migration runner, the materialized views it creates, and retention (TTL), on the real engine."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clickhouse import migrate, tables
from clickhouse.client import Store
from clickhouse.errors import SchemaError
from clickhouse.retention import applied_retention, apply_retention
from clickhouse.settings import StoreSettings
from ingest.load import LOADED, Loader
from ingest.sources import file_ref

pytestmark = pytest.mark.clickhouse

ACCOUNT = "111122223333"
_MV = re.compile(r"CREATE MATERIALIZED VIEW IF NOT EXISTS (\w+) TO (\w+)")


def _views_in_migrations() -> list[tuple[str, str]]:
    """(view, target) for every materialized view the migration files declare (read without an engine)."""
    found: list[tuple[str, str]] = []
    for migration in migrate.discover():
        found.extend((m.group(1), m.group(2)) for m in _MV.finditer(migration.sql))
    return found


@pytest.fixture
def scratch_store(store_settings: StoreSettings) -> Iterator[Store]:
    """A store on a fresh, empty database of the same engine (one data path per process)."""
    scratch = Store(store_settings, database=f"roletrail_scratch_{uuid.uuid4().hex[:12]}")
    try:
        yield scratch
    finally:
        server = scratch.server_client()
        try:
            server.command(f"DROP DATABASE IF EXISTS `{scratch.database}` SYNC")
        finally:
            server.close()
        scratch.close()


# -- the runner ----------------------------------------------------------------------------------


def test_fresh_apply_runs_every_migration_in_order(scratch_store: Store) -> None:
    # Arrange: an empty database
    names = [m.name for m in migrate.discover()]
    # Act
    applied = migrate.apply(scratch_store)
    # Assert
    assert applied == names
    assert migrate.status(scratch_store) == migrate.Status(applied=names, pending=[])


def test_latest_names_the_last_migration_file() -> None:
    # Arrange
    migrations = migrate.discover()
    # Act
    latest = migrate.latest_name()
    # Assert: numbered 1..n without gaps, LATEST rewritten with the newest one
    assert [m.version for m in migrations] == list(range(1, len(migrations) + 1))
    assert latest == migrations[-1].name


def test_the_session_store_is_at_latest(migrated_store: Store) -> None:
    # Arrange: the store every integration test shares
    # Act
    current = migrate.status(migrated_store)
    # Assert
    assert current.pending == []
    assert current.applied[-1] == migrate.latest_name()
    migrate.require_latest(migrated_store)


def test_reapply_is_a_no_op(migrated_store: Store) -> None:
    # Arrange: the session store is already migrated
    before = migrated_store.rows(
        f"SELECT version, checksum, applied_at FROM {tables.SCHEMA_MIGRATIONS} FINAL"
    )
    # Act
    applied = migrate.apply(migrated_store)
    # Assert
    assert applied == []
    after = migrated_store.rows(f"SELECT version, checksum, applied_at FROM {tables.SCHEMA_MIGRATIONS} FINAL")
    assert sorted(after) == sorted(before)


def test_a_changed_applied_migration_stops_the_runner(scratch_store: Store, tmp_path: Path) -> None:
    # Arrange: a copy of the migrations, applied, then one applied file edited
    directory = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, directory)
    migrate.apply(scratch_store, directory=directory)
    edited = sorted(directory.glob("*.sql"))[0]
    edited.write_text(
        edited.read_text(encoding="utf-8") + "\n-- an innocent-looking edit\n", encoding="utf-8"
    )
    # Act / Assert
    with pytest.raises(SchemaError, match="was changed after it ran"):
        migrate.apply(scratch_store, directory=directory)


def _with_extra_migration(tmp_path: Path) -> tuple[Path, str]:
    directory = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, directory)
    version = len(migrate.discover(directory)) + 1
    extra = directory / f"{version:04d}_create_test_notes.sql"
    extra.write_text(
        "CREATE TABLE IF NOT EXISTS test_notes (note String) ENGINE = MergeTree ORDER BY note;\n"
    )
    (directory / "LATEST").write_text(extra.stem + "\n")
    return directory, extra.stem


def test_a_new_migration_file_is_pending_then_applied(scratch_store: Store, tmp_path: Path) -> None:
    # Arrange: the schema at today's LATEST, then one more file
    migrate.apply(scratch_store)
    directory, name = _with_extra_migration(tmp_path)
    pending = migrate.status(scratch_store, directory).pending
    # Act
    applied = migrate.apply(scratch_store, directory=directory)
    # Assert
    assert pending == applied == [name]
    assert migrate.status(scratch_store, directory).pending == []


def test_require_latest_refuses_a_schema_behind_latest(scratch_store: Store, tmp_path: Path) -> None:
    # Arrange: the code knows one more migration than the store has
    migrate.apply(scratch_store)
    directory, name = _with_extra_migration(tmp_path)
    # Act / Assert
    with pytest.raises(SchemaError, match=name):
        migrate.require_latest(scratch_store, directory)


# -- materialized views (STYLE B13) --------------------------------------------------------------


def test_the_migrations_declare_materialized_views() -> None:
    # Arrange / Act
    views = _views_in_migrations()
    # Assert: the parametrized check below is not vacuous
    assert len(views) >= 5


@pytest.mark.parametrize(
    ("view", "target"), _views_in_migrations(), ids=[v for v, _ in _views_in_migrations()]
)
def test_every_materialized_view_produces_every_target_column(
    migrated_store: Store, view: str, target: str
) -> None:
    # Arrange: the view as the engine holds it, and its TO table's insertable columns
    rows = migrated_store.rows(
        """SELECT as_select, create_table_query FROM system.tables
        WHERE database = {db:String} AND name = {name:String}""",
        {"db": migrated_store.database, "name": view},
    )
    assert rows, f"{view} is not in the database"
    as_select, create = str(rows[0][0]), str(rows[0][1])
    assert re.search(rf"\bTO\s+`?{migrated_store.database}`?\.`?{target}`?\s", create)
    target_columns = {
        str(name)
        for (name,) in migrated_store.rows(
            """SELECT name FROM system.columns WHERE database = {db:String} AND table = {table:String}
            AND default_kind NOT IN ('MATERIALIZED', 'ALIAS', 'EPHEMERAL')""",
            {"db": migrated_store.database, "table": target},
        )
    }
    # Act: the columns the view's SELECT really produces
    produced = {str(row[0]) for row in migrated_store.rows(f"DESCRIBE TABLE ({as_select})")}
    # Assert: ClickHouse fills a missing column with its default and drops an extra one, silently
    assert (target_columns - produced, produced - target_columns) == (set(), set())


# -- retention (TTL) ------------------------------------------------------------------------------


def _trail_file(root: Path, records: list[dict[str, Any]], name: str) -> Path:
    path = (
        root
        / "AWSLogs"
        / ACCOUNT
        / "CloudTrail"
        / "eu-west-1"
        / "2024"
        / "03"
        / "05"
        / f"{ACCOUNT}_CloudTrail_{name}.json.gz"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))
    return path


def _call(n: int, when: datetime, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLE00001:ttl",
            "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Ttl/ttl",
            "accountId": ACCOUNT,
            "accessKeyId": f"ASIATTL{n:013d}",
        },
        "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "203.0.113.9",
        "eventID": f"7d1f0000-0000-4000-8000-{n:012d}",
        "recipientAccountId": ACCOUNT,
    }
    record.update(extra)
    return record


def _minting(n: int, when: datetime, minted: str) -> dict[str, Any]:
    return _call(
        n,
        when,
        eventName="AssumeRole",
        requestParameters={"roleArn": f"arn:aws:iam::{ACCOUNT}:role/Ttl", "roleSessionName": "ttl"},
        responseElements={"credentials": {"accessKeyId": minted, "expiration": "Mar 5, 2024, 11:00:00 AM"}},
    )


@pytest.fixture
def retention_30(store: Store) -> Iterator[Store]:
    """The store with a 30-day retention, put back to 0 afterwards."""
    apply_retention(store, 30)
    try:
        yield store
    finally:
        apply_retention(store, 0)


def _count(store: Store, table: str) -> int:
    return int(store.scalar(f"SELECT count() FROM {table}") or 0)


def test_retention_moves_the_ttl_of_every_retained_table(retention_30: Store) -> None:
    # Arrange: retention 30 applied by the fixture
    # Act
    engines: dict[str, str] = dict(
        retention_30.rows(
            "SELECT name, engine_full FROM system.tables WHERE database = {db:String}",
            {"db": retention_30.database},
        )
    )
    # Assert
    assert applied_retention(retention_30) == 30
    for table, column in tables.RETAINED.items():
        assert f"TTL {column} + toIntervalDay(30)" in str(engines[table])


def test_a_record_older_than_the_retention_is_reported_expired(retention_30: Store, tmp_path: Path) -> None:
    # Arrange: one record from 60 days ago, one from yesterday
    now = datetime.now(UTC)
    path = _trail_file(
        tmp_path, [_call(1, now - timedelta(days=60)), _call(2, now - timedelta(days=1))], "old"
    )
    loader = Loader(retention_30, retention_days=30)
    # Act
    result = loader.load(file_ref(path))
    # Assert: counted as expired (not bad, not loaded), said so, and not stored
    assert (result.status, result.records_read, result.records_loaded, result.records_expired) == (
        LOADED,
        2,
        1,
        1,
    )
    assert "older than the 30-day retention" in result.message
    ledger = retention_30.rows(
        f"""SELECT records_read, records_loaded, records_bad, records_expired
        FROM {tables.INGEST_OBJECTS} FINAL"""
    )
    assert ledger == [(2, 1, 0, 1)]
    assert _count(retention_30, f"{tables.CLOUDTRAIL_EVENTS} FINAL") == 1


def test_lowering_the_retention_drops_old_rows_at_merge(store: Store, tmp_path: Path) -> None:
    # Arrange: a session from 400 days ago (its issuance too) and one from yesterday, kept under retention 0
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=400), now - timedelta(days=1)
    records = [_minting(1, old, "ASIAOLDSESSION000001"), _call(2, old), _call(3, recent)]
    Loader(store, retention_days=0).load(file_ref(_trail_file(tmp_path, records, "mixed")))
    # The tables this trail fills (other sources' retained tables have their own TTL tests).
    trail_tables = [table for table in tables.RETAINED if table.startswith("cloudtrail_")]
    before = {table: _count(store, table) for table in trail_tables}
    # Act
    apply_retention(store, 30)
    try:
        for table in tables.RETAINED:
            store.command(f"OPTIMIZE TABLE {table} FINAL")
        after = {table: _count(store, table) for table in trail_tables}
    finally:
        apply_retention(store, 0)
    # Assert
    assert before == {
        tables.CLOUDTRAIL_EVENTS: 3,
        tables.CLOUDTRAIL_ISSUANCES: 1,
        tables.CLOUDTRAIL_SESSIONS: 3,
        tables.CLOUDTRAIL_ROLE_DAYS: 0,
        tables.CLOUDTRAIL_ACCOUNT_DAYS: 2,
    }
    assert after == {
        tables.CLOUDTRAIL_EVENTS: 1,
        tables.CLOUDTRAIL_ISSUANCES: 0,
        tables.CLOUDTRAIL_SESSIONS: 1,
        tables.CLOUDTRAIL_ROLE_DAYS: 0,
        tables.CLOUDTRAIL_ACCOUNT_DAYS: 1,
    }


def test_retention_zero_keeps_everything(store: Store, tmp_path: Path) -> None:
    # Arrange: a record from 2015 under the default of the test store (0: keep all)
    path = _trail_file(tmp_path, [_call(1, datetime(2015, 6, 1, tzinfo=UTC))], "ancient")
    # Act
    result = Loader(store, retention_days=0).load(file_ref(path))
    store.command(f"OPTIMIZE TABLE {tables.CLOUDTRAIL_EVENTS} FINAL")
    # Assert
    assert (result.records_loaded, result.records_expired) == (1, 0)
    assert _count(store, tables.CLOUDTRAIL_EVENTS) == 1


def test_applying_retention_zero_again_after_losing_its_record_succeeds(store: Store) -> None:
    # Arrange: TTLs already removed (retention 0), but store_meta no longer says so
    store.command(f"TRUNCATE TABLE {tables.STORE_META}")
    try:
        # Act
        changed = apply_retention(store, 0)
        # Assert
        assert changed
        assert applied_retention(store) == 0
    finally:
        # Put back what the shared store's fixture relies on (retention 0 recorded).
        store.insert(
            tables.STORE_META, [["retention_days", "0", datetime.now(UTC)]], ["key", "value", "updated_at"]
        )
