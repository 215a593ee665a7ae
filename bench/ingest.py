"""Ingest benchmark: `make bench` = `python -m bench.ingest [--events N] [--threads T] [--keep]`.

Prints figures, asserts nothing. Every measurement runs in a child process of its own
(bench._child): chDB allows one data path per process, and peak RSS is per process.

1. the demo dataset at N events (cached in bench/.data/demo-<N>-<seed>/, fixed end date);
2. `roletrail ingest` of it as a user runs it (store, in-process Dramatiq workers, job), with 1
   and T worker threads, timed from submit to finished and to the first counts;
3. stage costs on one thread: read, gunzip, split, ClickHouse insert, parse view, all views, ledger;
4. the do-it-yourself baseline: DuckDB read_json of the same files into an in-memory table.

The summary is also written to bench/.data/last-ingest.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._child import MARKER, demo_fingerprint, trail_files

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "bench" / ".data"
LOGS = DATA / "logs"
SUMMARY = DATA / "last-ingest.json"
# A fixed end keeps the cached dataset (and its event times) the same from run to run.
DEMO_END = "2026-11-01T00:00:00+00:00"
MB = 1024 * 1024
DUCKDB_MAX_OBJECT = 1024 * MB  # one trail file is one JSON object; real ones reach hundreds of MB
# (label, read_json options); the first is the baseline the ratio is computed against.
DUCKDB_VARIANTS = (
    (
        "auto types, union_by_name",
        f"format='auto', union_by_name=true, maximum_object_size={DUCKDB_MAX_OBJECT}",
    ),
    ("Records as JSON[] (raw)", f"columns={{'Records': 'JSON[]'}}, maximum_object_size={DUCKDB_MAX_OBJECT}"),
    ("auto types, default sampling", f"format='auto', maximum_object_size={DUCKDB_MAX_OBJECT}"),
)
QUALITY_BAR_EVENTS_PER_S = 100_000

Result = dict[str, Any]


# -- running children -------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Keep everything: the demo's event times must never count as expired.
    env["ROLETRAIL_RETENTION_DAYS"] = "0"
    # In-process queue, as on a laptop; a Redis URL in the caller's environment must not leak in.
    env["ROLETRAIL_REDIS_URL"] = ""
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _busy_seconds() -> float:
    """CPU time all processes of the machine have used (/proc/stat), in seconds; 0 if unknown."""
    try:
        fields = Path("/proc/stat").read_text(encoding="utf-8").splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(name: str, task: str, params: Result, timeout: float) -> Result:
    """Run one measurement in a fresh interpreter; a failure is reported, never raised."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log, out = LOGS / f"{name}.log", LOGS / f"{name}.json"
    out.unlink(missing_ok=True)
    command = [sys.executable, "-m", "bench._child", task, json.dumps(params), str(out)]
    start = time.perf_counter()
    busy, own = _busy_seconds(), _children_cpu()
    error = ""
    with log.open("wb") as handle:
        try:
            proc = subprocess.run(
                command,
                cwd=ROOT,
                env=_child_env(),
                stdout=handle,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0:
                error = f"exit code {proc.returncode}"
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:.0f} s"
    wall = time.perf_counter() - start
    # Cores kept busy by other processes meanwhile: figures taken on a busy machine say so.
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
    result.update(process_seconds=wall, other_cores=other)
    return result


# -- the dataset ------------------------------------------------------------------------------------


def ensure_demo(events: int, seed: int, timeout: float) -> tuple[Path, Result]:
    """The cached dataset, written first if it is missing or was left incomplete."""
    root = DATA / f"demo-{events}-{seed}"
    marker = root / MARKER
    if marker.exists():
        cached: Result = json.loads(marker.read_text(encoding="utf-8"))
        fresh = cached.get("end") == DEMO_END and cached.get("generator") == demo_fingerprint()
        if fresh and cached.get("files") == len(trail_files(root / "AWSLogs")):
            cached["cached"] = True
            return root, cached
    print(f"writing the demo dataset ({events:,} events) to {root.relative_to(ROOT)} ...", flush=True)
    result = run_child(
        "demo", "demo", {"root": str(root), "events": events, "seed": seed, "end": DEMO_END}, timeout
    )
    result["cached"] = False
    return root, result


# -- machine and versions ---------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    return 0.0


def machine() -> Result:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(_memory_gb(), 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def code_state() -> str:
    """The commit measured and the files changed on top of it (the code under test moves)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").strip()
        status = git("status", "--porcelain", "--", "api", "clickhouse", "ingest")
    except OSError:
        return "unknown (no git)"
    changed = sorted(line[3:] for line in status.splitlines() if line.strip())
    return f"{head or 'unknown'}" + (f" + uncommitted: {', '.join(changed)}" if changed else "")


def versions() -> dict[str, str]:
    found: dict[str, str] = {}
    for package in ("chdb", "clickhouse-connect", "duckdb", "dramatiq", "orjson"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


# -- figures ----------------------------------------------------------------------------------------


def rates(seconds: float, events: int, dataset: Result, objects: int | None = None) -> Result:
    if seconds <= 0:
        return {}
    return {
        "events_per_s": events / seconds,
        "gz_mb_per_s": dataset["bytes"] / MB / seconds,
        "json_mb_per_s": dataset["uncompressed_bytes"] / MB / seconds,
        "objects_per_s": (dataset["files"] if objects is None else objects) / seconds,
    }


def _num(value: Any, digits: int = 0) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _row(label: str, seconds: Any, figures: Result, result: Result, cpu: Any) -> str:
    return (
        f"{label:<44}{_num(seconds, 2):>9}{_num(figures.get('events_per_s')):>11}"
        f"{_num(figures.get('gz_mb_per_s'), 1):>9}{_num(figures.get('json_mb_per_s'), 1):>11}"
        f"{_num(figures.get('objects_per_s'), 1):>11}{_num(result.get('peak_rss_mb'), 0):>10}"
        f"{_num(cpu, 1):>8}{_num(result.get('other_cores'), 2):>8}"
    )


def _header() -> str:
    return (
        f"{'measurement':<44}{'wall s':>9}{'events/s':>11}{'gz MB/s':>9}{'json MB/s':>11}"
        f"{'objects/s':>11}{'peak RSS':>10}{'CPU s':>8}{'other':>8}"
    )


def _print_ingest(result: Result, dataset: Result) -> None:
    threads = result.get("threads")
    if "error" in result:
        print(f"  ingest, {threads} thread(s): FAILED ({result['error']}), log {result.get('log')}")
        return
    events_ok = (
        "= demo events" if result["events"] == dataset["events"] else f"!= demo events {dataset['events']:,}"
    )
    print(
        f"  ingest, {threads} worker thread(s): open store {result['open_store_seconds']:.2f} s, "
        f"job {result['job_seconds']:.2f} s, counts {result['count_seconds']:.2f} s, "
        f"queryable after {result['queryable_seconds']:.2f} s"
    )
    print(
        f"    objects {result['objects_done']}/{result['objects_found']} {result['by_status']}, "
        f"records read {result['records_read']:,} loaded {result['records_loaded']:,} "
        f"bad {result['records_bad']:,} "
        f"expired {result['records_expired']:,}"
    )
    cores = result["cpu_seconds_load"] / result["queryable_seconds"] if result["queryable_seconds"] else 0.0
    print(
        f"    events in cloudtrail_events {result['events']:,} ({events_ok}), "
        f"sessions {result['sessions']:,}, "
        f"CPU {result['cpu_seconds_load']:.1f} s during the load ({cores:.2f} cores busy), "
        f"peak RSS {result['peak_rss_mb']:.0f} MB "
        f"({result['peak_rss_mb_after_open']:.0f} MB after open_store)"
    )
    finished = result.get("messages_finished", [])
    shown = finished if len(finished) <= 6 else [*finished[:3], None, *finished[-2:]]
    done = ", ".join("..." if item is None else f"{item[0]:.1f} s ({item[1]})" for item in shown)
    print(f"    {len(finished)} load messages finished after (objects): {done}")
    print(f"    other processes kept {result.get('other_cores', 0):.2f} cores busy meanwhile")
    if result.get("problem_objects"):
        print(
            f"    objects the job lists with a problem or message: {result['problem_objects']} (the first 5:)"
        )
    for problem in result.get("problems", [])[:5]:
        print(f"    problem: {problem}")


def _print_stages(stages: Result, dataset: Result) -> None:
    if "error" in stages:
        print(f"  stage costs: FAILED ({stages['error']}), log {stages.get('log')}")
        return
    events = dataset["events"]
    print(
        f"stage costs, one thread: {stages['objects']} objects in {stages['groups']} groups "
        f"({stages['grouping']}), "
        f"{stages['inserts']} INSERTs; each pass repeats the ones above"
    )
    print(
        f"  {'pass':<52}{'cum s':>8}{'stage s':>9}{'events/s':>11}{'CPU s':>8}{'count':>11}{'trips':>7}"
        f"{'merges s':>10}"
    )
    previous = 0.0
    for stage in stages["stages"]:
        seconds = stage["seconds"]
        rate = events / seconds if seconds > 0 else 0.0
        print(
            f"  {stage['stage']:<52}{seconds:>8.2f}{seconds - previous:>9.2f}{rate:>11,.0f}"
            f"{stage['cpu_seconds']:>8.1f}{stage['count']:>11,}{_num(stage.get('round_trips')):>7}"
            f"{_num(stage.get('merge_wait_seconds'), 2):>10}"
        )
        previous = seconds
    by_name = {str(stage["stage"]).strip(): stage for stage in stages["stages"]}
    without = by_name.get("(all views but attribution's issuances)")
    with_views = by_name.get("+ all views and tables (no ledger)")
    if without and with_views:
        cost = float(with_views["seconds"]) - float(without["seconds"])
        print(
            f"  attribution at ingest (the issuance view): {cost:+.2f} s; events/s without it "
            f"{events / float(without['seconds']):,.0f}, with it {events / float(with_views['seconds']):,.0f}"
        )
    probes = ", ".join(f"{name} {ms:.1f} ms" for name, ms in stages["insert_probe_ms"].items())
    print(f"  fixed cost of one INSERT (1 record, mean of 20): {probes}")
    print(
        "  (count: units for the split pass, rows written for inserts, records loaded by the Loader; trips: "
        f"queries and inserts sent; merges s: waited after the pass for background merges, not counted; "
        f"events stored {stages['events']:,} by the Loader, "
        f"{stages['scratch_events']:,} without ledger; peak RSS {stages['peak_rss_mb']:.0f} MB; "
        f"other processes kept {stages.get('other_cores', 0):.2f} cores busy meanwhile)"
    )


def report(summary: Result) -> None:
    dataset, demo = summary["dataset"], summary["demo"]
    m, v = summary["machine"], summary["versions"]
    print()
    print("=" * 104)
    print(f"roletrail ingest benchmark, {summary['finished_at']}")
    print(f"machine   nproc {m['nproc']}, {m['cpu_model']}, {m['memory_gb']} GB RAM, Python {m['python']}")
    print(
        f"versions  chdb {v['chdb']} (ClickHouse {summary.get('engine_version', '?')}), "
        f"clickhouse-connect {v['clickhouse-connect']}, duckdb {v['duckdb']}, dramatiq {v['dramatiq']}"
    )
    print(f"code      {summary['code']}")
    print(
        f"dataset   N={dataset['requested_events']:,} requested -> {dataset['events']:,} events "
        f"in {dataset['files']} "
        f"files, {dataset['bytes'] / MB:.1f} MB gzip, {dataset['uncompressed_bytes'] / MB:.1f} MB JSON "
        f"({dataset['root']}, written {demo.get('created', '?')})"
    )
    print(
        "(MB = 2^20 bytes; ingest rates are to queryable: submit -> job finished -> sessions and events "
        "counted; CPU s: the measured process; other: cores other processes kept busy meanwhile)"
    )
    print()
    print(_header())
    cached = "cached" if demo.get("cached") else "written now"
    figures = rates(demo.get("seconds", 0), dataset["events"], dataset)
    print(
        _row(
            f"demo generation ({cached})",
            demo.get("seconds"),
            figures,
            demo,
            demo.get("cpu_seconds"),
        )
    )
    for result in summary["ingest"]:
        label = f"roletrail ingest, {result['threads']} worker thread(s)"
        if "error" in result:
            print(f"{label:<44}FAILED: {result['error']}")
            continue
        figures = rates(result["queryable_seconds"], result["events"], dataset, result["objects_done"])
        print(_row(label, result["queryable_seconds"], figures, result, result["cpu_seconds_load"]))
    for result in summary["duckdb"]:
        label = f"duckdb {result['label']}, {result['threads']} thr"
        if "error" in result:
            print(f"{label:<44}FAILED: {result['error']}")
            continue
        figures = rates(result["seconds"], result["rows"], dataset)
        print(_row(label, result["seconds"], figures, result, result["cpu_seconds"]))
    print()
    for result in summary["duckdb"]:
        if "error" in result:
            continue
        rows_ok = "= events" if result["rows"] == dataset["events"] else f"!= {dataset['events']:,} events"
        print(
            f"  duckdb {result['label']}: {result['rows']:,} rows ({rows_ok}), "
            "sessionContext.attributes.creationDate kept in "
            f"{result['rows_with_session_context']:,} rows"
        )
    for result in summary["ingest"]:
        _print_ingest(result, dataset)
    print()
    _print_stages(summary["stages"], dataset)
    print()
    for line in summary["verdict"]:
        print(line)
    print("=" * 104)


def verdict(summary: Result) -> list[str]:
    """The ratios against DuckDB and the DESIGN.md bar, stated (benchmarks report, they do not assert)."""
    lines: list[str] = []
    baseline: Result = summary["duckdb"][0] if summary["duckdb"] else {"error": "not run"}
    duck_rate = (
        baseline["rows"] / baseline["seconds"] if "error" not in baseline and baseline["seconds"] > 0 else 0.0
    )
    lines.append(f"DuckDB baseline: read_json {baseline.get('label', '?')} ({baseline.get('error', 'ok')})")
    for result in summary["ingest"]:
        if "error" in result or result["queryable_seconds"] <= 0:
            continue
        rate = result["events"] / result["queryable_seconds"]
        ratio = f"{rate / duck_rate:.2f}" if duck_rate else "n/a"
        result["ratio_to_duckdb"] = rate / duck_rate if duck_rate else None
        bar = (
            "meets" if rate >= QUALITY_BAR_EVENTS_PER_S and (not duck_rate or rate >= duck_rate) else "below"
        )
        lines.append(
            f"roletrail/duckdb events/s, {result['threads']} worker thread(s): {ratio} "
            f"({rate:,.0f} vs {duck_rate:,.0f}; "
            f"DESIGN.md bar >= DuckDB and >= {QUALITY_BAR_EVENTS_PER_S:,}: {bar})"
        )
    return lines


# -- main -------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="demo events to generate (default 1,000,000)"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="worker threads of the second run and DuckDB's threads"
    )
    parser.add_argument("--seed", type=int, default=7, help="demo seed (default 7)")
    parser.add_argument("--keep", action="store_true", help="keep the stores written under bench/.data/runs/")
    args = parser.parse_args(argv)
    if args.events < 1 or args.threads < 1:
        parser.error("--events and --threads must be positive")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    # Generous limits: a hung child must not hang `make bench`, a slow machine must still finish.
    timeout = 600 + args.events / 500
    started = datetime.now(UTC)
    code = code_state()
    print(
        f"roletrail ingest benchmark: N={args.events:,}, threads 1 and {args.threads}; logs in {LOGS}",
        flush=True,
    )

    root, demo = ensure_demo(args.events, args.seed, timeout)
    if "error" in demo:
        print("the demo dataset could not be written: nothing to measure")
        return 1
    logs = root / "AWSLogs"
    keys = ("requested_events", "seed", "end", "events", "files", "bytes", "uncompressed_bytes")
    dataset: Result = {key: demo[key] for key in keys}
    dataset["root"] = str(root.relative_to(ROOT))
    print(
        f"dataset: {dataset['events']:,} events in {dataset['files']} files "
        f"({'cached' if demo['cached'] else 'new'})"
    )

    run_dir = DATA / "runs" / started.strftime("%Y%m%dT%H%M%SZ")
    ingest: list[Result] = []
    for threads in sorted({1, args.threads}):
        print(f"roletrail ingest with {threads} worker thread(s) ...", flush=True)
        params = {"logs": str(logs), "store": str(run_dir / f"ingest-t{threads}"), "threads": threads}
        result = run_child(f"ingest-t{threads}", "ingest", params, timeout)
        result["threads"] = threads
        _print_ingest(result, dataset)
        ingest.append(result)

    print("stage costs (one thread, one process) ...", flush=True)
    stages = run_child("stages", "stages", {"logs": str(logs), "store": str(run_dir / "stages")}, timeout)

    duck: list[Result] = []
    for index, (label, options) in enumerate(DUCKDB_VARIANTS):
        print(f"duckdb read_json, {label} ...", flush=True)
        params = {"logs": str(logs), "threads": args.threads, "options": options}
        result = run_child(f"duckdb-{index}", "duckdb", params, timeout)
        result.update(label=label, threads=args.threads)
        duck.append(result)

    summary: Result = {
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "code": code,
        "versions": versions(),
        "engine_version": next((r["engine_version"] for r in ingest if "engine_version" in r), "?"),
        "dataset": dataset,
        "demo": demo,
        "ingest": ingest,
        "stages": stages,
        "duckdb": duck,
    }
    summary["verdict"] = verdict(summary)
    report(summary)
    SUMMARY.write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print(f"summary written to {SUMMARY.relative_to(ROOT)}")
    if args.keep:
        print(f"stores kept under {run_dir.relative_to(ROOT)}")
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
    # A DuckDB variant that cannot load the files is a finding about DuckDB, not a failed benchmark.
    failed = [r for r in [*ingest, stages, duck[0]] if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
