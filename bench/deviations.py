"""Deviations benchmark: `python -m bench.deviations [--events N] [--runs R] [--threads T]`.

Prints figures, asserts nothing. Each step is a child process (chDB allows one data path per
process), run by bench.reads' child runner over this module's tasks (bench._deviations_child):

1. the demo dataset at N events (bench.ingest's cache, bench/.data/demo-<N>-<seed>/);
2. ingest cost: the dataset loaded through the real queue into a store with every migration and
   the bundled geolocation database, then into a store migrated only up to 0005 with geolocation
   off (no geo columns, no baseline rollups): events/s of each;
3. read cost, in the first store: `session_deviations` of the demo's incident sessions and of a
   sample of ordinary sessions (cold: a fresh lineage cache per call), p50/p95 over R runs; and
   the triage list of the incident days.

The summary is also written to bench/.data/last-deviations.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.ingest import DATA, LOGS, ROOT, _child_env, ensure_demo

STORES = DATA / "stores"
SUMMARY = DATA / "last-deviations.json"
GOAL_SESSION_MS = 50.0  # DESIGN.md: a session with its deviations at 10M events

Result = dict[str, Any]


def run_child(name: str, task: str, params: Result, timeout: float) -> Result:
    LOGS.mkdir(parents=True, exist_ok=True)
    log, out = LOGS / f"{name}.log", LOGS / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench._deviations_child", task, json.dumps(params), str(out)]
    start = time.perf_counter()
    with log.open("wb") as handle:
        try:
            code = subprocess.run(
                command, cwd=ROOT, env=_child_env(), stdout=handle, stderr=subprocess.STDOUT, timeout=timeout,
                check=False,
            ).returncode  # fmt: skip
        except subprocess.TimeoutExpired:
            code = -1
    if code != 0 or not out.exists():
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        return {"error": f"exit {code}", "log_tail": tail, "seconds": time.perf_counter() - start}
    result: Result = json.loads(out.read_text(encoding="utf-8"))
    result["seconds"] = time.perf_counter() - start
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.deviations")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--skip-plain", action="store_true", help="do not load the store without geo/baselines"
    )
    parser.add_argument("--measure-only", action="store_true", help="reuse the loaded store; measure reads")
    args = parser.parse_args(argv)
    timeout = 600 + args.events / 300
    root, dataset = ensure_demo(args.events, args.seed, timeout)
    events = int(dataset.get("events", args.events))
    print(f"dataset: {events:,} events in {root}", flush=True)
    summary: Result = {"events": events, "started_at": datetime.now(UTC).isoformat()}
    loads: dict[str, Result] = {}
    variants = [("with", True)] + ([] if args.skip_plain else [("without", False)])
    if args.measure_only:
        variants = []
    for name, enriched in variants:
        store = STORES / f"deviations-{name}-{args.events}"
        print(f"loading {name} geolocation and baselines into {store} ...", flush=True)
        loads[name] = run_child(
            f"deviations-load-{name}-{args.events}", "load",
            {"demo": str(root), "store": str(store), "threads": args.threads, "enriched": enriched}, timeout,
        )  # fmt: skip
    summary["loads"] = loads
    print("measuring deviations ...", flush=True)
    summary["measure"] = run_child(
        f"deviations-measure-{args.events}", "measure",
        {"demo": str(root), "store": str(STORES / f"deviations-with-{args.events}"), "runs": args.runs},
        timeout,
    )  # fmt: skip
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    report(summary)
    return 0


def report(summary: Result) -> None:
    print(f"\nroletrail deviations benchmark, {summary['events']:,} demo events")
    for name, load in summary["loads"].items():  # empty with --measure-only
        if "error" in load:
            print(f"  load {name}: FAILED {load['error']}\n{load.get('log_tail', '')}")
            continue
        rate = load["records_loaded"] / load["load_seconds"] if load.get("load_seconds") else 0
        print(
            f"  ingest {name} geolocation + baselines: {rate:,.0f} events/s "
            f"({load['records_loaded']:,} records in {load['load_seconds']:.1f} s, "
            f"{load['threads']} threads; "
            f"located addresses {load.get('geo_addresses', 0):,})"
        )
    measure = summary["measure"]
    if "error" in measure:
        print(f"  measure: FAILED {measure['error']}\n{measure.get('log_tail', '')}")
        return
    print(f"  session deviations (in-process, cold lineage cache), goal < {GOAL_SESSION_MS:.0f} ms at 10M:")
    for row in measure["sessions"]:
        print(
            f"    {row['name']:<34} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms  "
            f"queries {row['queries']:>3}  found {row['found']}"
        )
    triage = measure["triage"]
    print(
        f"  triage of {triage['scope']}: {triage['sessions_examined']} sessions examined in "
        f"{triage['seconds']:.1f} s; top: {triage['top']}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
