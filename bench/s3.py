"""S3 backfill benchmark: `python -m bench.s3 [--events N] [--threads 1 2]` (part of `make bench`).

Prints figures, asserts nothing. The demo dataset (N events, fixed end date) is uploaded to a moto
S3 server on loopback (upload not timed); then, for each thread count, a child process opens a
fresh embedded store, starts the in-process workers and a follow loop as `roletrail serve` does,
records a backfill of the whole bucket for the demo's days and waits for it to finish: the time
covers planning (listing streams and day prefixes), GETs over HTTP, loading and the ledger.
Several worker processes need a ClickHouse server (one embedded store per process): the code path
is the same, with ROLETRAIL_REDIS_URL and ROLETRAIL_CLICKHOUSE_URL set.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
DEMO_END = datetime(2026, 11, 1, tzinfo=UTC)
DEMO_DAYS = 30
BUCKET = "bench-org-trail"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def _demo(events: int) -> Path:
    from ingest.demo import write_demo

    root = DATA / f"s3-demo-{events}"
    marker = root / ".complete"
    if not marker.exists():
        write_demo(root, events=events, seed=7, days=DEMO_DAYS, end=DEMO_END)
        marker.write_text("ok")
    return root


def _upload(root: Path, endpoint: str) -> tuple[int, int]:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    files = [p for p in sorted((root / "AWSLogs").rglob("*")) if p.is_file()]
    for path in files:
        s3.upload_file(str(path), BUCKET, str(path.relative_to(root)))
    return len(files), sum(p.stat().st_size for p in files)


def server_ceiling(endpoint: str, root: Path, count: int = 1000) -> float:
    """GETs/s the test server itself serves to the loader's concurrent prefetch (the upper bound
    of objects/s any run here can reach)."""
    from ingest import s3

    s3.use_connection(BUCKET, s3.Connection(region="us-east-1", endpoint_url=endpoint))
    files = [p for p in sorted((root / "AWSLogs").rglob("*")) if p.is_file()][:count]
    refs = [s3.ref_of(BUCKET, str(p.relative_to(root)), p.stat().st_size) for p in files]
    started = time.perf_counter()
    for start in range(0, len(refs), 200):
        s3.prefetch(refs[start : start + 200])
        s3.release(refs[start : start + 200])
    return len(refs) / (time.perf_counter() - started)


def child(endpoint: str, threads: int) -> dict[str, Any]:
    """One measurement in this (fresh) process: a store, workers, a follow loop, one backfill."""
    from api.cli import open_store, start_follow, start_workers
    from clickhouse import tables
    from clickhouse.settings import StoreSettings
    from ingest import backfill
    from ingest.settings import IngestSettings
    from ingest.sourcesconfig import SourceConfig, save_source

    data_dir = Path(tempfile.mkdtemp(prefix="bench-s3-", dir=DATA))
    store_settings = StoreSettings(data_dir=data_dir, retention_days=0)
    ingest_settings = IngestSettings(worker_threads=threads, follow_tick_seconds=0.2)
    store = open_store(store_settings, owner=True)
    workers = start_workers(store, store_settings, ingest_settings)
    stop = start_follow(store, workers, ingest_settings)
    source = SourceConfig("bench", BUCKET, region="us-east-1", endpoint_url=endpoint)
    save_source(store, source)
    first, last = (DEMO_END - timedelta(days=DEMO_DAYS + 1)).date(), DEMO_END.date()
    started = time.perf_counter()
    requested = backfill.request_backfill(store, source, first, last, 0, "bench")
    discovered = 0.0
    while True:
        status = backfill.backfill_status(store, requested.backfill_id)
        if status is not None and status.backfill.state == backfill.FINISHED:
            break
        listed = status is not None and status.backfill.planned
        if listed and not discovered and status and status.parts_discovered >= status.backfill.parts_planned:
            discovered = time.perf_counter() - started
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    events = store.scalar(f"SELECT sum(records_loaded) FROM {tables.INGEST_OBJECTS} FINAL")
    objects = store.scalar(f"SELECT count() FROM {tables.INGEST_OBJECTS} FINAL")
    stop.set()
    workers.stop()
    store.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return {
        "threads": threads,
        "seconds": seconds,
        "listed_after": discovered,
        "parts": status.backfill.parts_planned,
        "objects": int(objects),
        "events": int(events or 0),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.s3", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", nargs=2, metavar=("ENDPOINT", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.update(AWS_ENV)
    DATA.mkdir(parents=True, exist_ok=True)
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return 0
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    root = _demo(args.events)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        files, size = _upload(root, endpoint)
        print(f"S3 backfill from a moto server on loopback: {files:,} objects, {size / 2**20:.1f} MB, "
              f"demo of {args.events:,} events", flush=True)  # fmt: skip
        print(
            f"the server alone: {server_ceiling(endpoint, root):,.0f} GETs/s (16 concurrent, as the loader)"
        )
        print(f"{'threads':>8} {'seconds':>8} {'listed':>7} {'parts':>6} {'objects':>8} {'events':>8} "
              f"{'objects/s':>10} {'events/s':>9}")  # fmt: skip
        for threads in args.threads:
            run = subprocess.run(
                [sys.executable, "-m", "bench.s3", "--child", endpoint, str(threads)],
                cwd=ROOT, capture_output=True, text=True, check=False, env={**os.environ, **AWS_ENV},
            )  # fmt: skip
            if run.returncode != 0:
                print(f"{threads:>8} failed: {run.stderr[-2000:]}")
                continue
            result = json.loads(run.stdout.strip().splitlines()[-1])
            seconds = result["seconds"]
            print(
                f"{threads:>8} {seconds:>8.1f} {result['listed_after']:>7.1f} {result['parts']:>6} "
                f"{result['objects']:>8,} {result['events']:>8,} "
                f"{result['objects'] / seconds:>10,.0f} {result['events'] / seconds:>9,.0f}",
                flush=True,
            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
