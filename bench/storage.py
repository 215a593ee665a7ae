"""Storage cost of retention: `python -m bench.storage [--events N]` (part of `make bench`).

Loads the demo dataset (N events over 30 days, as bench.s3 writes it) into a fresh embedded store
through the ingest path, merges, and prints bytes on disk per table from `system.parts` (active
parts), with the cost per 30 days of retention and per million events. Every table with data is
listed, so tables added by other slices (flows, findings, rollups) show up without changes here.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import timedelta

from bench.s3 import DATA, _demo


def main(argv: list[str] | None = None) -> int:
    from api.cli import open_store, start_workers, wait_for_job
    from clickhouse import tables
    from clickhouse.settings import StoreSettings
    from ingest.settings import IngestSettings

    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    root = _demo(args.events)
    settings = StoreSettings(data_dir=tempfile.mkdtemp(prefix="bench-storage-", dir=DATA), retention_days=0)
    store = open_store(settings, owner=True)
    workers = start_workers(store, settings, IngestSettings(worker_threads=2))
    try:
        wait_for_job(store, workers.submit(store, [str(root)], "bench"), interactive=False)
    finally:
        workers.stop()
    merge_tree = (
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine LIKE '%MergeTree'"
    )
    for (table,) in store.rows(merge_tree):
        store.command(f"OPTIMIZE TABLE `{table}` FINAL")  # a name from the store's own catalogue
    events, first, last = store.rows(
        f"SELECT count(), min(event_time), max(event_time) FROM {tables.CLOUDTRAIL_EVENTS} FINAL"
    )[0]
    span_days = max((last - first) / timedelta(days=1), 1.0)
    rows = store.rows(
        """SELECT table, sum(rows), sum(bytes_on_disk), sum(data_uncompressed_bytes) FROM system.parts
        WHERE database = currentDatabase() AND active GROUP BY table ORDER BY sum(bytes_on_disk) DESC"""
    )
    total = sum(int(r[2]) for r in rows)
    print(
        f"demo: {events:,} events over {span_days:.1f} days;"
        " bytes on disk of active parts after OPTIMIZE FINAL"
    )
    print(
        f"{'table':<34} {'rows':>10} {'MB on disk':>11} {'MB raw':>9} {'MB / 30 days':>13} "
        f"{'MB / M events':>14}"
    )
    for table, count, on_disk, raw in rows:
        print(
            f"{table:<34} {int(count):>10,} {int(on_disk) / 2**20:>11.2f} {int(raw) / 2**20:>9.2f} "
            f"{int(on_disk) / 2**20 * 30 / span_days:>13.2f} {int(on_disk) / 2**20 / events * 1e6:>14.2f}"
        )
    print(
        f"{'total':<34} {'':>10} {total / 2**20:>11.2f} {'':>9} {total / 2**20 * 30 / span_days:>13.2f} "
        f"{total / 2**20 / events * 1e6:>14.2f}"
    )
    store.close()
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
