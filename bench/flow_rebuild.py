"""Flow rollup rebuild benchmark: `python -m bench.flow_rebuild [--records N] [--threads T]`.

Prints figures, asserts nothing. In one child process (chDB allows one data path per process):
the dataset of bench.flowlogs (N records, default 2,000,000, cached in bench/.data/) loaded by the
real Loader with T threads into a fresh embedded store; the flow rollups lost (truncated, the flow
rows of instance_interfaces deleted); `rebuild_flows` timed: records/s, process CPU, the cores
other processes kept busy meanwhile (`other`, from /proc/stat), peak RSS; a second rebuild over
whole rollups timed the same way. The rollups' totals before and after are compared and printed
(a rebuild must give what the load gave).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.flowlogs import DATA, ROOT, _cpu, _dataset, _rss, fresh_store

Result = dict[str, Any]
# Present until a migration carries the views that skip replayed rows and the replay view.


def _busy_seconds() -> float:
    """CPU time all processes of the machine have used (/proc/stat), in seconds."""
    fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _totals(store: Any) -> list[Any]:
    from clickhouse import tables

    return [
        store.rows(f"SELECT count(), sum(flows), sum(bytes) FROM {tables.FLOWLOG_REMOTE_HOURLY} FINAL")[0],
        store.rows(
            f"SELECT count(), sum(flows), sum(bytes_in + bytes_out), sum(nodata) "
            f"FROM {tables.FLOWLOG_INTERFACE_HOURLY} FINAL"
        )[0],
        store.rows(
            f"SELECT uniqExact(instance_id, interface_id, address, evidence), min(valid_from), max(valid_to) "
            f"FROM {tables.INSTANCE_INTERFACES}"
        )[0],
    ]


def _timed(store: Any) -> Result:
    from clickhouse.flow_rebuild import rebuild_flows

    cpu0, busy0, started = _cpu(), _busy_seconds(), time.perf_counter()
    done = rebuild_flows(store)
    seconds = time.perf_counter() - started
    own = _cpu() - cpu0
    return {
        "seconds": seconds, "records": done.records, "partitions": done.partitions, "cpu_seconds": own,
        "other_cores": max(0.0, (_busy_seconds() - busy0 - own) / seconds),
    }  # fmt: skip


def task_rebuild(params: Result) -> Result:
    from clickhouse import tables
    from ingest.load import Loader
    from ingest.sources import walk

    data_dir = Path(params["store"])
    store = fresh_store(data_dir)
    loader = Loader(store, retention_days=0)
    refs = list(walk(Path(params["root"]) / "AWSLogs"))
    started = time.perf_counter()
    with ThreadPoolExecutor(int(params["threads"])) as pool:
        loaded = sum(r.records_loaded for r in pool.map(loader.load, refs))
    load_seconds = time.perf_counter() - started
    before = _totals(store)
    for table in tables.FLOW_ROLLUPS:
        store.command(f"TRUNCATE TABLE {table}")
    store.command(f"DELETE FROM {tables.INSTANCE_INTERFACES} WHERE source = 'flowlogs'")
    first = _timed(store)
    after_first = _totals(store)
    second = _timed(store)
    after_second = _totals(store)
    result: Result = {
        "records_loaded": loaded, "load_seconds": load_seconds, "first": first, "second": second,
        "same_after_first": after_first == before, "same_after_second": after_second == before,
        "totals": [list(map(str, row)) for row in before], "peak_rss_mb": _rss(),
    }  # fmt: skip
    store.close()
    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.flow_rebuild", description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("PARAMS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        params, out = args.child
        Path(out).write_text(json.dumps(task_rebuild(json.loads(params))), encoding="utf-8")
        return 0
    DATA.mkdir(parents=True, exist_ok=True)
    root, dataset = _dataset(args.records)
    if "error" in dataset:
        print(f"dataset: {dataset['error']}")
        return 1
    out = DATA / "flow-rebuild.json"
    out.unlink(missing_ok=True)
    params = {"root": str(root), "store": str(DATA / "runs" / "flow-rebuild"), "threads": args.threads}
    env = dict(os.environ, ROLETRAIL_RETENTION_DAYS="0", ROLETRAIL_REDIS_URL="")
    command = [sys.executable, "-m", "bench.flow_rebuild", "--child", json.dumps(params), str(out)]
    proc = subprocess.run(command, cwd=ROOT, env=env, check=False)
    if proc.returncode != 0 or not out.exists():
        print(f"rebuild: failed (exit {proc.returncode})")
        return 1
    run: Result = json.loads(out.read_text(encoding="utf-8"))
    print(
        f"dataset: {dataset['records']:,} records, {dataset['files']} files; "
        f"loaded {run['records_loaded']:,} in {run['load_seconds']:.1f} s with {args.threads} threads"
    )
    for name in ("first", "second"):
        step = run[name]
        what = "lost rollups" if name == "first" else "whole rollups"
        print(
            f"rebuild ({what}): {step['records']:,} records in {step['partitions']} partitions, "
            f"{step['seconds']:.1f} s: "
            f"{step['records'] / step['seconds']:,.0f} records/s; CPU {step['cpu_seconds']:.1f} s; "
            f"other {step['other_cores']:.2f} cores; same totals as loaded: {run[f'same_after_{name}']}"
        )
    print(f"peak RSS {run['peak_rss_mb']:,.0f} MB; totals {run['totals']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
