"""Read benchmark: `python -m bench.reads [--events N] [--requests R] [--clients C]`.

Prints figures, asserts nothing. Each step runs in a child process of its own (bench._reads_child):
chDB allows one data path per process.

1. the demo dataset at N events (the cache of bench.ingest: bench/.data/demo-<N>-<seed>/, fixed end);
2. a kept store of it, bench/.data/stores/reads-<N>/, loaded once (reused when its ledger has every
   object of the dataset done);
3. in one process holding that store: the real app served by uvicorn on a loopback port, GraphQL
   over HTTP with a bearer token: session detail for four credentials of the demo's facts, the four
   investigator questions of README.md, each one client at a time then with C concurrent clients;
   then chain + origin resolution alone (api.cloudtrail.lineage.resolve) in-process.

The summary is also written to bench/.data/last-reads.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.ingest import (
    DATA,
    LOGS,
    ROOT,
    _busy_seconds,
    _child_env,
    _children_cpu,
    code_state,
    ensure_demo,
    machine,
    versions,
)

SUMMARY = DATA / "last-reads.json"
STORES = DATA / "stores"
MB = 1024 * 1024
# DESIGN.md, "Quality bars": reads at 10 million events.
GOAL_SESSION_MS = 50.0  # a session with its chain, origin (and deviations, not in the API yet)
GOAL_QUESTION_MS = 200.0  # each of the four investigator questions
GOAL_CONCURRENT_P99_MS = 250.0  # p99 under 16 concurrent GraphQL clients
GOAL_LINEAGE_MS = 50.0  # the goal for chain + origin resolution alone

Result = dict[str, Any]


# -- children ---------------------------------------------------------------------------------------


def run_child(name: str, task: str, params: Result, timeout: float) -> Result:
    """Run one task of bench._reads_child in a fresh interpreter, echoing its progress lines.

    A failure is reported, never raised."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log, out = LOGS / f"{name}.log", LOGS / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench._reads_child", task, json.dumps(params), str(out)]
    start = time.perf_counter()
    busy, own = _busy_seconds(), _children_cpu()
    error = ""
    shown = 0
    with log.open("wb") as handle:
        proc = subprocess.Popen(command, cwd=ROOT, env=_child_env(), stdout=handle, stderr=subprocess.STDOUT)
        while True:
            try:
                code = proc.wait(timeout=5)
                break
            except subprocess.TimeoutExpired:
                shown = _echo(log, shown)
                if time.perf_counter() - start > timeout:
                    proc.kill()
                    proc.wait()
                    code = -1
                    error = f"timed out after {timeout:.0f} s"
                    break
        shown = _echo(log, shown)
        if code != 0 and not error:
            error = f"exit code {code}"
    wall = time.perf_counter() - start
    other = max(0.0, (_busy_seconds() - busy) - (_children_cpu() - own)) / wall if wall > 0 else 0.0
    if not error and not out.exists():
        error = "no result written"
    if error:
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-6:]
        reason = [line for line in tail if "Error" in line or "Exception" in line] or tail
        if reason:
            error = f"{error}: {reason[-1].strip()[:300]}"
        print(f"  !! {name} failed; log: {log}", flush=True)
        for line in tail:
            print(f"  !!   {line[:300]}", flush=True)
        return {"error": error, "log": str(log), "process_seconds": wall, "other_cores": other}
    result: Result = json.loads(out.read_text(encoding="utf-8"))
    result.update(process_seconds=wall, other_cores=other, log=str(log))
    return result


def _echo(log: Path, shown: int) -> int:
    """Print the log lines written since the last call (the child's progress)."""
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    for line in lines[shown:]:
        print(f"  | {line[:200]}", flush=True)
    return len(lines)


# -- figures ----------------------------------------------------------------------------------------


def _ms(value: Any) -> str:
    return "-" if value is None or value != value else f"{value:,.1f}"  # NaN != NaN


def _verdict(value: float, goal: float, what: str) -> str:
    return f"{what} < {goal:.0f} ms: {'meets' if value < goal else 'ABOVE'}"


def _seq_goal(result: Result) -> str:
    goal = GOAL_SESSION_MS if result["group"] == "session" else GOAL_QUESTION_MS
    return f"{_verdict(result['p50_ms'], goal, 'p50')}, {_verdict(result['p99_ms'], goal, 'p99')}"


def _sql(summary: Result, label: str) -> tuple[str, str]:
    figures = summary["measure"].get("sql", {}).get("per_label", {}).get(label)
    if not figures:
        return "-", "-"
    return f"{figures['statements_per_request']:.1f}", f"{figures['sql_ms_per_request']:.1f}"


def report(summary: Result) -> None:
    dataset, load, measure = summary["dataset"], summary["load"], summary["measure"]
    print()
    print("=" * 118)
    print(f"roletrail read benchmark, N={dataset['requested_events']:,}  ({summary['finished_at']})")
    m = summary["machine"]
    print(
        f"machine: {m['nproc']} cores ({m['cpu_model']}), {m['memory_gb']} GB, Python {m['python']}; "
        f"code {summary['code']}"
    )
    print(
        "versions: "
        + ", ".join(f"{k} {v}" for k, v in summary["versions"].items())
        + f"; engine {measure.get('engine_version', load.get('engine_version', '?'))}"
    )
    print(
        f"dataset: {dataset['events']:,} events in {dataset['files']:,} files, "
        f"{dataset['bytes'] / MB:,.0f} MB gz ({dataset['uncompressed_bytes'] / MB:,.0f} MB JSON), "
        f"{dataset['root']} ({'cached' if dataset['cached'] else 'written now'})"
    )
    _print_store(summary)
    if "error" in measure:
        print(f"measurement FAILED: {measure['error']}")
        print("=" * 118)
        return
    sync = measure["readme_in_sync"]
    print(
        "questions as README.md writes them: "
        + ("yes" if all(sync.values()) else "NO, differ: " + ", ".join(k for k, v in sync.items() if not v))
        + f"; server: uvicorn in the measuring process, clients: httpx2 in the same process; "
        f"{measure['warmup']} warm-up requests, then timed ones"
    )
    print()
    header = f"{'measurement':<44}{'n':>5}{'err':>4}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}"
    print(f"{header}{'req/s':>8}{'sql/req':>8}{'sql ms':>8}  DESIGN.md goal (at 10M events)")
    print("one client at a time (ms)")
    for r in measure["sequential"]:
        count, ms = _sql(summary, f"seq:{r['name']}")
        print(
            f"  {r['name']:<42}{r['n']:>5}{r['errors']:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}{'':>8}{count:>8}{ms:>8}  {_seq_goal(r)}"
        )
    clients = measure["concurrent"][0]["clients"] if measure["concurrent"] else 0
    print(f"{clients} concurrent clients (ms)")
    for r in measure["concurrent"]:
        count, ms = _sql(summary, f"conc:{r['name']}")
        print(
            f"  {r['name']:<42}{r['n']:>5}{r['errors']:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}{r['requests_per_s']:>8.1f}{count:>8}{ms:>8}  "
            f"{_verdict(r['p99_ms'], GOAL_CONCURRENT_P99_MS, 'p99')}"
        )
    print("chain + origin alone: lineage.resolve(store, [key]) in-process (ms)")
    for r in measure["lineage"]:
        count, ms = _sql(summary, f"lineage:{r['name']}")
        goal = ""
        if r["name"] == "deep chain leaf":
            p50, p99 = (
                _verdict(r["p50_ms"], GOAL_LINEAGE_MS, "p50"),
                _verdict(r["p99_ms"], GOAL_LINEAGE_MS, "p99"),
            )
            goal = f"{p50}, {p99} (the issue's goal)"
        print(
            f"  {r['name']:<42}{r['n']:>5}{0:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}{'':>8}{count:>8}{ms:>8}  {goal}"
        )
    print("one statement alone, in-process (ms): the fixed cost each level of a chain walk pays")
    for r in measure.get("floor", []):
        print(
            f"  {r['name']:<42}{r['n']:>5}{0:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}"
        )
    print("any request over HTTP (ms)")
    for r in measure.get("http_floor", []):
        print(
            f"  {r['name']:<42}{r['n']:>5}{0:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}"
        )
    http = {r["name"]: r for r in measure["sequential"]}
    print("the same GraphQL requests without HTTP: schema.execute in-process (ms; then the HTTP p50)")
    for r in measure.get("executed", []):
        count, ms = _sql(summary, f"exec:{r['name']}")
        over = http.get(r["name"], {}).get("p50_ms")
        print(
            f"  {r['name']:<42}{r['n']:>5}{r['errors']:>4}{_ms(r['p50_ms']):>9}{_ms(r['p90_ms']):>9}"
            f"{_ms(r['p99_ms']):>9}{_ms(r['max_ms']):>9}{'':>8}{count:>8}{ms:>8}  HTTP p50 {_ms(over)}"
        )
    print(
        "sql/req: SQL statements sent per request; sql ms: their summed time per request (each timed "
        "around the client call: engine + transfer)"
    )
    print()
    print("answers (last response of each sequential run; lineage results):")
    for r in measure["sequential"]:
        error = f"  [{r['errors']} errors, first: {r['first_error'][:160]}]" if r["errors"] else ""
        capped = "  [stopped early: time cap]" if r.get("capped") else ""
        print(f"  {r['name']:<42}{r['answer']}{error}{capped}")
    for r in measure["lineage"]:
        print(f"  {'resolve ' + r['name']:<42}{r['answer']}")
    for r in measure["concurrent"]:
        if r["errors"]:
            first = r["first_error"][:200]
            print(f"  {r['name']} ({r['clients']} clients): {r['errors']} errors, first: {first}")
    _print_where(measure)
    _print_sql(measure)
    opened = measure.get("client_open_ms", {})
    print(
        f"ClickHouse clients opened by the Store (one per new thread): {measure.get('clients_opened', 0)}, "
        f"p50 {_ms(opened.get('p50_ms'))} ms, max {_ms(opened.get('max_ms'))} ms each"
    )
    print(
        f"measuring process: peak RSS {measure['peak_rss_mb']:,.0f} MB, "
        f"CPU {measure['cpu_seconds']:,.0f} s, wall {measure['process_seconds']:,.0f} s; "
        f"other processes kept {measure['other_cores']:.2f} cores busy"
    )
    print("=" * 118)


def _print_store(summary: Result) -> None:
    load, measure = summary["load"], summary["measure"]
    if "error" in load:
        print(f"store: FAILED to load ({load['error']})")
        return
    ledger = load["ledger"]
    how = (
        "reused"
        if load["reused"]
        else f"loaded in {load['load_seconds']:,.1f} s with {load['threads']} worker threads "
        f"({summary['dataset']['events'] / load['load_seconds']:,.0f} events/s)"
    )
    print(
        f"store: {summary['store_dir']}: {how}; "
        f"ledger {ledger['objects_done']:,}/{ledger['objects_expected']:,} "
        f"objects done ({'complete' if ledger['complete'] else 'INCOMPLETE'}), "
        f"{ledger['cloudtrail_records_loaded']:,} records; {load['events']:,} rows in cloudtrail_events"
    )
    stats = measure.get("store") or load["store"]
    parts = ", ".join(
        f"{t} {v['parts']} parts/{v['rows']:,} rows" for t, v in stats["tables"].items() if v["rows"]
    )
    rest = measure.get("at_rest", {})
    print(
        f"  {stats['sessions']:,} sessions, {stats['minted_keys']:,} minted keys, "
        f"{stats['store_bytes'] / MB:,.0f} MB on disk; waited {rest.get('merge_wait_seconds', 0):.1f} s "
        f"for merges before measuring"
    )
    print(f"  {parts}")


def _print_where(measure: Result) -> None:
    """Per sequential run: which read functions sent SQL, how often and for how long, per request."""
    per_label = measure.get("sql", {}).get("per_label", {})
    print()
    print("where the time goes, per request of each sequential run (read function x statements: SQL ms;")
    print(
        "statements of one request may run at once in the threadpool, so their sum can exceed its latency):"
    )
    for r in measure["sequential"]:
        figures = per_label.get(f"seq:{r['name']}")
        if not figures:
            continue
        parts = ", ".join(
            f"{f['function']} x{f['per_request']:.1f}: {f['ms_per_request']:.1f}"
            for f in figures["by_function"][:5]
        )
        print(f"  {r['name']:<42}{parts}")


def _print_sql(measure: Result) -> None:
    top = measure.get("sql", {}).get("top", [])
    if not top:
        return
    print()
    print(
        "slowest SQL templates (sequential runs + in-process lineage; time = client call, engine + transfer):"
    )
    for index, item in enumerate(top, 1):
        labels = sorted({label.split(":", 1)[1] for label in item["labels"]})
        print(
            f"  #{index} reads.{item['function']}: total {item['total_ms']:,.0f} ms, {item['count']:,} runs, "
            f"p50 {item['p50_ms']:.1f} ms, max {item['max_ms']:.1f} ms, "
            f"{item['mean_result_rows']:,.1f} rows returned; in: {'; '.join(labels)[:150]}"
        )
        print(f"     {item['sql'][:220]}")
        if item.get("estimate"):
            reads = ", ".join(
                f"{e['table']}: {e['parts']} parts, {e['rows']:,} rows, {e['marks']:,} marks"
                for e in item["estimate"]
            )
            print(f"     EXPLAIN ESTIMATE (slowest run, params {item.get('worst_params')}): {reads}"[:400])
        elif item.get("estimate_error"):
            print(f"     EXPLAIN ESTIMATE failed: {item['estimate_error']}")


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="demo events (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=7, help="demo seed (default 7)")
    parser.add_argument(
        "--requests", type=int, default=50, help="timed requests per measurement (default 50)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests before each (default 5)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument(
        "--exec-runs", type=int, default=20, help="in-process schema.execute runs per request (default 20)"
    )
    parser.add_argument("--lineage-runs", type=int, default=100, help="in-process resolve runs (default 100)")
    parser.add_argument(
        "--threads", type=int, default=2, help="worker threads of the one-time load (default 2)"
    )
    parser.add_argument(
        "--cap-seconds",
        type=float,
        default=600.0,
        help="stop a sequential measurement after this long (at least 10 requests; default 600)",
    )
    args = parser.parse_args(argv)
    counts = (args.events, args.requests, args.clients, args.lineage_runs, args.exec_runs, args.threads)
    if min(counts) < 1 or args.warmup < 0:
        parser.error("counts must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    timeout = 600 + args.events / 500
    started = datetime.now(UTC)
    code = code_state()
    print(f"roletrail read benchmark: N={args.events:,}; logs in {LOGS}", flush=True)

    root, demo = ensure_demo(args.events, args.seed, timeout)
    if "error" in demo:
        print("the demo dataset could not be written: nothing to measure")
        return 1
    keys = ("requested_events", "seed", "end", "events", "files", "bytes", "uncompressed_bytes")
    dataset: Result = {key: demo[key] for key in keys}
    dataset.update(root=str(root.relative_to(ROOT)), cached=demo["cached"])
    print(f"dataset: {dataset['events']:,} events in {dataset['files']} files", flush=True)

    store_dir = STORES / f"reads-{args.events}"
    print(
        f"store {store_dir.relative_to(ROOT)}: checking the ledger, loading what is missing ...", flush=True
    )
    load = run_child(
        f"reads-load-{args.events}",
        "load",
        {"demo": str(root), "store": str(store_dir), "threads": args.threads},
        timeout,
    )
    summary: Result = {
        "started_at": started.isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code,
        "versions": versions(),
        "dataset": dataset,
        "store_dir": str(store_dir.relative_to(ROOT)),
        "settings": vars(args),
        "goals_ms": {
            "session": GOAL_SESSION_MS,
            "question": GOAL_QUESTION_MS,
            "concurrent_p99": GOAL_CONCURRENT_P99_MS,
            "lineage": GOAL_LINEAGE_MS,
        },
        "load": load,
        "measure": {"error": "not run: the store could not be loaded"},
    }
    if "error" not in load:
        print("measuring reads ...", flush=True)
        summary["measure"] = run_child(
            f"reads-measure-{args.events}",
            "measure",
            {
                "demo": str(root),
                "store": str(store_dir),
                "readme": str(ROOT / "README.md"),
                "warmup": args.warmup,
                "requests": args.requests,
                "clients": args.clients,
                "lineage_runs": args.lineage_runs,
                "exec_runs": args.exec_runs,
                "cap_seconds": args.cap_seconds,
            },
            timeout,
        )
    summary["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    report(summary)
    SUMMARY.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print(f"summary written to {SUMMARY.relative_to(ROOT)}")
    return 1 if "error" in load or "error" in summary["measure"] else 0


if __name__ == "__main__":
    sys.exit(main())
