"""Retention: ROLETRAIL_RETENTION_DAYS applied to the TTL of every event-like table.

This is the only DDL outside the migration files. The contract for tables, so that a new one
(flows, findings, rollups, baselines) is covered without touching this module:

- A MergeTree table follows the retention when its migration declares the default,
  `TTL <time expression> + INTERVAL 365 DAY` (ClickHouse shows it as `toIntervalDay(365)`), as
  its only TTL clause. The time expression is the table's event time (a DateTime column, a Date
  column, or an expression of them); `ttl_only_drop_parts = 1` makes expiry drop whole parts.
- A table with a TTL of another length keeps it: that is a policy of its own (`ingest_rejects`
  keeps 90 days of load time). A table without TTL is never given one (the ledger, jobs, sources).
- Tables named in `tables.RETAINED` are covered whatever their TTL says.

`apply_retention` finds these tables in `system.tables`, remembers each one's time expression in
`store_meta` (so that a table keeps being covered after its TTL was removed for retention 0), and
sets `MODIFY TTL <expr> + toIntervalDay(days)` (or `REMOVE TTL` for 0) on every table whose TTL
differs. Changes to existing tables are safe: each statement is idempotent and only touches the
TTL; the server recalculates TTL information of existing parts in the background, and with
`ttl_only_drop_parts` a part is dropped only when all its rows are past the new retention. Lowering
the retention deletes data once merges run (logged as a warning); raising it keeps what is left
and lets objects whose records had expired be loaded again (see ingest.load.Loader.done). On a
replicated cluster the ALTERs replicate through Keeper like any ALTER of a Replicated table.
Table names and time expressions in these ALTERs come from the store's own catalogue (tables and
TTLs the migrations created), never from a request.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from clickhouse import tables
from clickhouse.client import Store

log = logging.getLogger(__name__)

_KEY = "retention_days"
_TABLES_KEY = "retention_tables"
_DEFAULT_IN_MIGRATIONS = 365
# `TTL <expr> + toIntervalDay(N)` as the only TTL clause, up to SETTINGS or the end.
_TTL = re.compile(
    r"\sTTL\s+(?P<expr>.+?)\s+\+\s+toIntervalDay\((?P<days>\d+)\)(?:\s+DELETE)?\s*(?:SETTINGS\s|$)"
)
_ANY_TTL = re.compile(r"\sTTL\s")


@dataclass(frozen=True)
class Ttl:
    expression: str
    days: int


def parse_ttl(create_table_query: str) -> Ttl | None:
    """The table's single `<expr> + toIntervalDay(N)` TTL, or None (no TTL, or another kind)."""
    match = _TTL.search(create_table_query)
    if match is None:
        return None
    return Ttl(match.group("expr").strip(), int(match.group("days")))


def applied_retention(store: Store) -> int:
    value = store.scalar(
        f"SELECT value FROM {tables.STORE_META} FINAL WHERE key = {{key:String}}", {"key": _KEY}
    )
    return int(value) if value is not None else _DEFAULT_IN_MIGRATIONS


def retained_tables(store: Store) -> dict[str, str]:
    """Every table the retention applies to, with the time expression its TTL is on."""
    stored = store.scalar(
        f"SELECT value FROM {tables.STORE_META} FINAL WHERE key = {{key:String}}", {"key": _TABLES_KEY}
    )
    known: dict[str, str] = dict(tables.RETAINED)
    if stored:
        known.update(json.loads(str(stored)))
    for name, ttl in _current_ttls(store).items():
        if ttl is not None and ttl.days == _DEFAULT_IN_MIGRATIONS:
            known.setdefault(name, ttl.expression)
    existing = set(_current_ttls(store))
    return {name: expression for name, expression in sorted(known.items()) if name in existing}


def _current_ttls(store: Store) -> dict[str, Ttl | None]:
    rows = store.rows(
        "SELECT name, create_table_query FROM system.tables"
        " WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
    )
    return {str(name): parse_ttl(str(query)) for name, query in rows}


def apply_retention(store: Store, days: int) -> bool:
    """Set the TTL of every retained table to `days` (0 removes it); True if anything changed."""
    retained = retained_tables(store)
    current = _current_ttls(store)
    changed = applied_retention(store) != days
    for table, expression in retained.items():
        ttl = current.get(table)
        if days == 0:
            # REMOVE TTL fails on a table without one: check first, so that this can be re-run.
            if ttl is not None or _has_ttl(store, table):
                store.command(f"ALTER TABLE {table} REMOVE TTL")
                changed = True
        elif ttl != Ttl(expression, days):
            if ttl is not None and ttl.days > days:
                log.warning("retention of %s lowered from %s to %s days: older rows will be dropped",
                            table, ttl.days, days)  # fmt: skip
            store.command(f"ALTER TABLE {table} MODIFY TTL {expression} + toIntervalDay({int(days)})")
            changed = True
    now = datetime.now(UTC)
    store.insert(
        tables.STORE_META,
        [[_KEY, str(days), now], [_TABLES_KEY, json.dumps(retained, sort_keys=True), now]],
        ["key", "value", "updated_at"],
    )
    return changed


def _has_ttl(store: Store, table: str) -> bool:
    create = store.scalar(
        "SELECT create_table_query FROM system.tables"
        " WHERE database = currentDatabase() AND name = {t:String}",
        {"t": table},
    )
    return _ANY_TTL.search(str(create or "")) is not None
