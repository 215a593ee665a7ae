"""Flow log benchmark: `python -m bench.flowlogs [--records N] [--threads T] [--keep]` (in `make bench`).

Prints figures, asserts nothing. Steps, each in a child process of its own (chDB allows one data
path per process; peak RSS is per process):

1. the dataset: N flow records (default 10,000,000) from ingest.demo_flowlogs, 2,000 interfaces
   with stable peers, default and custom version-5 formats alternating, 200,000 records
   (about 28 MB of text) per five-minute file, cached in bench/.data/flowlogs-<N>/ (reused
   while the generator is unchanged);
2. ingest: the real Loader (ledger, checks, all views) over every file with T threads into a
   fresh embedded store, timed to the last ledger row: records/s, MB/s stored and as text,
   process CPU, peak RSS;
3. the instance query at that size: `instance(id)` with sessions, network summary (hourly series),
   remote addresses and deviations, through the GraphQL schema (no HTTP), p50 and max of 10 runs.

The summary is also written to bench/.data/last-flowlogs.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
SUMMARY = DATA / "last-flowlogs.json"
MB = 1024 * 1024
GOAL_RECORDS_PER_S = 300_000
# Busy flow logs deliver files of tens of MB (up to 75 MB) every five minutes.
RECORDS_PER_FILE = 200_000
INTERFACES = 2_000
START = datetime(2026, 10, 1, tzinfo=UTC)
MARKER = ".complete.json"
Result = dict[str, Any]

INSTANCE_QUERY = """
query ($id: String!) {
  instance(id: $id) {
    identifier sessionCount apiCallCount
    sessions(first: 20) { edges { node { accessKeyId apiCallCount sourceIps } } }
    network { bytesIn bytesOut packetsIn packetsOut acceptedFlows rejectedFlows
              series(bucket: HOUR) { start bytesIn bytesOut } }
    remoteAddresses(first: 20) { edges { node { address bytesOut bytesIn flows ports } } }
    deviations { kind value firstSeen }
  }
}
"""


def _generator_hash() -> str:
    import ingest.demo_flowlogs

    return hashlib.sha256(Path(ingest.demo_flowlogs.__file__).read_bytes()).hexdigest()[:16]


def bench_interfaces() -> list[Any]:
    import random

    from ingest.demo_flowlogs import FlowInterface, random_peers

    rnd = random.Random(11)
    interfaces = []
    for i in range(INTERFACES):
        clients = tuple((f"203.0.113.{rnd.randrange(1, 255)}", 443) for _ in range(5)) if i % 10 == 0 else ()
        interfaces.append(
            FlowInterface(
                instance_id=f"i-0be{i:014x}",
                interface_id=f"eni-0be{i:014x}",
                private_ip=f"10.{i // 65536}.{(i // 256) % 256}.{i % 256 + 1 if i % 256 < 254 else 4}",
                account_id="123456789012",
                peers=random_peers(rnd, 20),
                clients=clients,
            )
        )
    return interfaces


# -- children -----------------------------------------------------------------------------------------


def task_generate(params: Result) -> Result:
    from ingest.demo_flowlogs import write_flow_logs

    root = Path(params["root"])
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    records = int(params["records"])
    windows = max(1, records // RECORDS_PER_FILE)
    started = time.perf_counter()
    summary = write_flow_logs(
        building, bench_interfaces(), START, START + timedelta(minutes=5 * windows),
        records_per_window=RECORDS_PER_FILE,
    )  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    building.rename(root)
    result = {
        "records": summary.records, "files": summary.files, "stored_bytes": summary.stored_bytes,
        "text_bytes": summary.text_bytes, "seconds": time.perf_counter() - started,
        "generator": _generator_hash(),
    }  # fmt: skip
    (root / MARKER).write_text(json.dumps(result), encoding="utf-8")
    return result


def fresh_store(data_dir: Path) -> Any:
    """A migrated embedded store in an emptied directory, keeping everything (retention 0)."""
    from clickhouse import migrate
    from clickhouse.client import Store
    from clickhouse.retention import apply_retention
    from clickhouse.settings import StoreSettings

    shutil.rmtree(data_dir, ignore_errors=True)
    store = Store(StoreSettings(data_dir=data_dir, retention_days=0))
    store.server_client().command(f"CREATE DATABASE IF NOT EXISTS {store.database}")
    migrate.apply(store)
    apply_retention(store, 0)
    return store


def task_ingest(params: Result) -> Result:
    from bench._stages import load_groups
    from ingest.load import Loader
    from ingest.sources import walk

    data_dir = Path(params["store"])
    store = fresh_store(data_dir)
    loader = Loader(store, retention_days=0)
    refs = list(walk(Path(params["root"]) / "AWSLogs"))
    # As the workers get them: objects grouped into messages the way ingest.actors sends them.
    groups, grouping = load_groups(refs)
    cpu0 = _cpu()
    started = time.perf_counter()
    with ThreadPoolExecutor(int(params["threads"])) as pool:
        results = [result for done in pool.map(loader.load_many, groups) for result in done]
    seconds = time.perf_counter() - started
    cpu_seconds = _cpu() - cpu0
    loaded = sum(r.records_loaded for r in results)
    # Merges the load left running: not in the figure above, but they are part of what it costs.
    settle = time.perf_counter() + 300
    while store.scalar("SELECT count() FROM system.merges") and time.perf_counter() < settle:
        time.sleep(0.5)
    merge_cpu_after = _cpu() - cpu0 - cpu_seconds
    parts = _parts(store)
    # What is left to merge, at most: every month of the flow tables merged into one part (a
    # store that keeps growing merges its parts in levels; this rewrites every row once more).
    cpu1 = _cpu()
    for table in ("flowlog_records", "flowlog_remote_hourly", "flowlog_interface_hourly"):
        store.command(f"OPTIMIZE TABLE {table} FINAL")
    result: Result = {
        "seconds": seconds, "cpu_seconds": cpu_seconds, "merge_cpu_after": merge_cpu_after,
        "parts_after": parts, "merge_to_one_cpu": _cpu() - cpu1,
        "records_loaded": loaded,
        "records_bad": sum(r.records_bad for r in results),
        "statuses": sorted({r.status for r in results}), "peak_rss_mb": _rss(),
        "messages": len(groups), "grouping": grouping,
        "rows": {
            table: int(store.scalar(f"SELECT count() FROM {table}") or 0)
            for table in ("flowlog_records", "flowlog_remote_hourly", "flowlog_interface_hourly")
        },
    }  # fmt: skip
    result["query"] = _query(store, params)
    store.close()
    if not params.get("keep"):
        shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _query(store: Any, params: Result) -> Result:
    from api.context import Context
    from api.loaders import Loaders
    from api.schema import build_schema
    from api.settings import ApiSettings

    settings = ApiSettings()
    schema = build_schema(settings)
    instance = params["instance"]

    async def once() -> float:
        context = Context(settings, store, Loaders.create(store), "bench", "bench")
        started = time.perf_counter()
        outcome = await schema.execute(
            INSTANCE_QUERY, variable_values={"id": instance}, context_value=context
        )
        elapsed = (time.perf_counter() - started) * 1000
        if outcome.errors:
            raise RuntimeError(str(outcome.errors[0]))
        return elapsed

    async def run() -> list[float]:
        return [await once() for _ in range(10)]

    try:
        timings = asyncio.run(run())
    except RuntimeError as exc:
        return {"error": str(exc)[:300]}
    return {"p50_ms": statistics.median(timings), "max_ms": max(timings), "runs": len(timings)}


def _parts(store: Any) -> int:
    """Active parts of flowlog_records after the load (merges start at about 20 of a size)."""
    return int(
        store.scalar("SELECT count() FROM system.parts WHERE active AND table = 'flowlog_records'") or 0
    )


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


TASKS = {"generate": task_generate, "ingest": task_ingest}


def _child(task: str, params: Result) -> Result:
    from bench.ingest import _busy_seconds, _children_cpu

    out = DATA / f"flowlogs-{task}.json"
    out.unlink(missing_ok=True)
    env = dict(os.environ, ROLETRAIL_RETENTION_DAYS="0", ROLETRAIL_REDIS_URL="")
    command = [sys.executable, "-m", "bench.flowlogs", "--child", task, json.dumps(params), str(out)]
    started, busy, own = time.perf_counter(), _busy_seconds(), _children_cpu()
    proc = subprocess.run(command, cwd=ROOT, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode != 0 or not out.exists():
        return {"error": f"{task} failed (exit {proc.returncode})"}
    result: Result = json.loads(out.read_text(encoding="utf-8"))
    # Cores kept busy by other processes meanwhile: figures taken on a busy machine say so.
    result["other_cores"] = (
        max(0.0, (_busy_seconds() - busy) - (_children_cpu() - own)) / wall if wall else 0.0
    )
    return result


def _dataset(records: int) -> tuple[Path, Result]:
    root = DATA / f"flowlogs-{records}"
    marker = root / MARKER
    if marker.exists():
        cached: Result = json.loads(marker.read_text(encoding="utf-8"))
        if cached.get("generator") == _generator_hash():
            return root, {**cached, "cached": True}
    print(f"writing {records:,} flow records to {root.relative_to(ROOT)} ...", flush=True)
    return root, _child("generate", {"root": str(root), "records": records})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flowlogs", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the store in bench/.data/runs/")
    parser.add_argument("--child", nargs=3, metavar=("TASK", "PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        task, params, out = args.child
        Path(out).write_text(json.dumps(TASKS[task](json.loads(params))), encoding="utf-8")
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    root, dataset = _dataset(args.records)
    if "error" in dataset:
        print(f"dataset: {dataset['error']}")
        return 1
    print(
        f"dataset: {dataset['records']:,} records, {dataset['files']} files, "
        f"{dataset['stored_bytes'] / MB:,.0f} MB gzip, {dataset['text_bytes'] / MB:,.0f} MB text"
        + (" (cached)" if dataset.get("cached") else f" (written in {dataset['seconds']:.0f} s)"),
        flush=True,
    )
    store = DATA / "runs" / f"flowlogs-{args.records}"
    params = {
        "root": str(root), "store": str(store), "threads": args.threads, "keep": args.keep,
        "instance": bench_interfaces()[0].instance_id,
    }  # fmt: skip
    run = _child("ingest", params)
    summary = {"dataset": dataset, "threads": args.threads, "ingest": run}
    SUMMARY.write_text(json.dumps(summary, indent=2), encoding="utf-8")
    if "error" in run:
        print(f"ingest: {run['error']}")
        return 1
    seconds, loaded = run["seconds"], run["records_loaded"]
    per_record_us = run["cpu_seconds"] / max(1, loaded) * 1e6
    print(f"flow log ingest, {args.threads} threads (goal >= {GOAL_RECORDS_PER_S:,} records/s):")
    print(
        f"  {loaded:,} records in {seconds:.1f} s: {loaded / seconds:,.0f} records/s, "
        f"{dataset['stored_bytes'] / MB / seconds:.1f} MB/s gzip, "
        f"{dataset['text_bytes'] / MB / seconds:.1f} MB/s text; "
        f"CPU {run['cpu_seconds']:.0f} s ({per_record_us:.1f} us/record, "
        f"{run['cpu_seconds'] / max(1, dataset['text_bytes']) * 1e9:.0f} ns/byte of text); "
        f"peak RSS {run['peak_rss_mb']:,.0f} MB; statuses {run['statuses']}; bad {run['records_bad']}"
    )
    merges = run.get("merge_cpu_after", 0)
    print(
        f"  merges left running after the last object: {merges:.1f} CPU s "
        f"({(run['cpu_seconds'] + merges) / max(1, loaded) * 1e6:.1f} us/record with them); "
        f"other processes kept {run.get('other_cores', 0):.2f} cores busy meanwhile"
    )
    print(f"  {run.get('messages', 0)} load messages ({run.get('grouping', '')})")
    debt = run.get("merge_to_one_cpu", 0)
    print(
        f"  flowlog_records had {run.get('parts_after', 0)} parts after the load; merging every month of "
        f"the flow tables into one part then took {debt:.1f} CPU s "
        f"({(run['cpu_seconds'] + merges + debt) / max(1, loaded) * 1e6:.1f} us/record with load and merges)"
    )
    print(f"  rows: {run['rows']}")
    query = run["query"]
    if "error" in query:
        print(f"instance query: {query['error']}")
    else:
        print(f"instance query at this size: p50 {query['p50_ms']:.1f} ms, max {query['max_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
