"""Forward-only migration runner over clickhouse/migrations/NNNN_<verb>_<object>.sql.

Each file holds statements separated by a `-- statement-break` line; the runner sends one
statement per call (ClickHouse DDL is not transactional, so every statement is idempotent and a
half-applied file can be re-run). Applied files are recorded with their sha256 in
schema_migrations; a changed applied file stops the runner.

    python -m clickhouse.migrate [status|apply]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.errors import SchemaError
from clickhouse.settings import StoreSettings

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
STATEMENT_BREAK = re.compile(r"^--\s*statement-break\s*$", re.MULTILINE)
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()

    def statements(self) -> list[str]:
        parts = (part.strip() for part in STATEMENT_BREAK.split(self.sql))
        return [part.rstrip(";").strip() for part in parts if _has_sql(part)]


@dataclass(frozen=True)
class Status:
    applied: list[str]
    pending: list[str]


def _has_sql(text: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in text.splitlines())


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every migration file in version order; a misnamed or duplicate-numbered file is an error."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise SchemaError(f"migration file name must be NNNN_<verb>_<object>.sql: {path.name}")
        found.append(Migration(int(match.group(1)), path.stem, path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise SchemaError("two migration files share a number")
    return found


def latest_name(directory: Path = MIGRATIONS_DIR) -> str:
    return (directory / "LATEST").read_text(encoding="utf-8").strip()


def _ensure_database(store: Store) -> None:
    # The database and the ledger table must exist before the first migration can be recorded.
    server = store.server_client()
    try:
        server.command(f"CREATE DATABASE IF NOT EXISTS `{store.database}`")
    finally:
        server.close()
    store.command(
        f"""CREATE TABLE IF NOT EXISTS {tables.SCHEMA_MIGRATIONS}
        (version UInt32, name String, checksum String, applied_at DateTime64(3, 'UTC'))
        ENGINE = ReplacingMergeTree(applied_at) ORDER BY version"""
    )


def _applied(store: Store) -> dict[int, tuple[str, str]]:
    rows = store.rows(
        f"SELECT version, name, checksum FROM {tables.SCHEMA_MIGRATIONS} FINAL ORDER BY version"
    )
    return {int(v): (str(n), str(c)) for v, n, c in rows}


def _check_checksums(migrations: list[Migration], applied: dict[int, tuple[str, str]]) -> None:
    for migration in migrations:
        if migration.version in applied and applied[migration.version][1] != migration.checksum:
            raise SchemaError(
                f"applied migration {migration.name} was changed after it ran; "
                "migrations are forward-only: write a new file instead"
            )


def status(store: Store, directory: Path = MIGRATIONS_DIR) -> Status:
    _ensure_database(store)
    migrations = discover(directory)
    applied = _applied(store)
    _check_checksums(migrations, applied)
    return Status(
        applied=[m.name for m in migrations if m.version in applied],
        pending=[m.name for m in migrations if m.version not in applied],
    )


def apply(store: Store, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order; returns the names applied."""
    _ensure_database(store)
    migrations = discover(directory)
    applied = _applied(store)
    _check_checksums(migrations, applied)
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        for statement in migration.statements():
            store.command(statement)
        store.insert(
            tables.SCHEMA_MIGRATIONS,
            [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
            ["version", "name", "checksum", "applied_at"],
        )
        done.append(migration.name)
    return done


def require_latest(store: Store, directory: Path = MIGRATIONS_DIR) -> None:
    """Refuse to run against a schema that is not at LATEST (distributed API and workers)."""
    current = status(store, directory)
    if current.pending:
        raise SchemaError(f"schema is not at {latest_name(directory)}: pending {', '.join(current.pending)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m clickhouse.migrate", description=__doc__)
    parser.add_argument("action", choices=["status", "apply"], nargs="?", default="status")
    args = parser.parse_args(argv)
    store = Store(StoreSettings())
    try:
        if args.action == "apply":
            names = apply(store)
            print("applied: " + (", ".join(names) if names else "nothing, schema is current"))
        else:
            current = status(store)
            for name in current.applied:
                print(f"applied  {name}")
            for name in current.pending:
                print(f"pending  {name}")
    finally:
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
