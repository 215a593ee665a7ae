"""One measurement per process: `python -m bench._child TASK PARAMS_JSON RESULT_PATH`.

chDB allows one data path per process, and peak memory (ru_maxrss) is a per-process figure, so
bench.ingest runs every measurement in a child of its own. The child writes a JSON object to
RESULT_PATH; its own stdout and stderr go to a log file kept by the parent.
"""

from __future__ import annotations

import hashlib
import json
import resource
import shutil
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Params = dict[str, Any]
Result = dict[str, Any]

MARKER = ".complete.json"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def gzip_sizes(files: list[Path]) -> tuple[int, int]:
    """Stored and uncompressed bytes (gzip ISIZE trailer: exact for single-member files < 4 GiB)."""
    stored = uncompressed = 0
    for path in files:
        stored += path.stat().st_size
        with path.open("rb") as handle:
            handle.seek(-4, 2)
            uncompressed += int.from_bytes(handle.read(4), "little")
    return stored, uncompressed


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def demo_fingerprint() -> str:
    """The demo generator's source hash: a cached dataset from another generator is not reused."""
    import ingest.demo

    return hashlib.sha256(Path(ingest.demo.__file__).read_bytes()).hexdigest()[:16]


def trail_files(logs: Path) -> list[Path]:
    return sorted(logs.rglob("*.json.gz"))


# -- 1. demo generation -----------------------------------------------------------------------------


def task_demo(params: Params) -> Result:
    """Write the demo dataset into a temporary folder, then move it into place with a marker."""
    from ingest.demo import write_demo

    root = Path(params["root"])
    building = root.with_name(root.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    shutil.rmtree(root, ignore_errors=True)
    start = time.perf_counter()
    summary = write_demo(
        building,
        events=int(params["events"]),
        seed=int(params["seed"]),
        end=datetime.fromisoformat(params["end"]),
    )
    seconds = time.perf_counter() - start
    files = trail_files(building / "AWSLogs")
    stored, uncompressed = gzip_sizes(files)
    result: Result = {
        "requested_events": int(params["events"]),
        "seed": int(params["seed"]),
        "end": params["end"],
        "events": summary.events,
        "files": len(files),
        "bytes": stored,
        "uncompressed_bytes": uncompressed,
        "seconds": seconds,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": cpu_seconds(),
        "created": datetime.now().astimezone().isoformat(timespec="seconds"),
        "generator": demo_fingerprint(),
    }
    (building / MARKER).write_text(json.dumps(result, indent=2), encoding="utf-8")
    building.rename(root)
    return result


# -- 2. roletrail ingest, the way a user runs it -------------------------------------------------


def task_ingest(params: Params) -> Result:
    """open_store, start_workers, submit the folder, wait for the job, then count what is queryable."""
    from api.cli import open_store, start_workers, wait_for_job
    from clickhouse import tables
    from clickhouse.settings import StoreSettings
    from ingest.settings import IngestSettings

    threads = int(params["threads"])
    settings = StoreSettings(data_dir=Path(params["store"]), retention_days=0)
    start = time.perf_counter()
    store = open_store(settings, owner=True)
    opened = time.perf_counter()
    rss_opened = peak_rss_mb()
    # In-process queue (no Redis URL), as `roletrail ingest` on a laptop.
    workers = start_workers(store, settings, IngestSettings(worker_threads=threads, redis_url=""))
    try:
        started = time.perf_counter()
        submitted = datetime.now(UTC)
        cpu_before = cpu_seconds()
        job_id = workers.submit(store, [params["logs"]], "bench")
        status = wait_for_job(store, job_id, interactive=False)
        finished = time.perf_counter()
        sessions = store.scalar(
            f"SELECT count() FROM (SELECT session_key FROM {tables.CLOUDTRAIL_SESSIONS} GROUP BY session_key)"
        )
        events = store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}")
        queryable = time.perf_counter()
        cpu_load = cpu_seconds() - cpu_before
        engine = store.scalar("SELECT version()")
        # Each message writes its objects' ledger rows at once: when each message finished.
        finished_at = store.rows(
            f"""SELECT loaded_at, count() FROM {tables.INGEST_OBJECTS} FINAL WHERE job_id = {{job:String}}
            GROUP BY loaded_at ORDER BY loaded_at""",
            {"job": job_id},
        )
    finally:
        workers.stop()
        store.close()
    return {
        "threads": threads,
        "engine_version": str(engine),
        "open_store_seconds": opened - start,
        "start_workers_seconds": started - opened,
        "job_seconds": finished - started,
        "queryable_seconds": queryable - started,
        "count_seconds": queryable - finished,
        "messages_finished": [
            [round((_aware(at) - submitted).total_seconds(), 2), int(objects)] for at, objects in finished_at
        ],
        "cpu_seconds_load": cpu_load,
        "objects_found": status.objects_found,
        "objects_done": status.objects_done,
        "objects_already_loaded": status.objects_already_loaded,
        "by_status": status.by_status,
        "records_read": status.records_read,
        "records_loaded": status.records_loaded,
        "records_bad": status.records_bad,
        "records_expired": status.records_expired,
        "problem_objects": len(status.problems),
        "problems": [f"{p.status}: {p.uri}: {p.message or p.records_bad}" for p in status.problems[:10]],
        "message": status.message,
        "events": int(events or 0),
        "sessions": int(sessions or 0),
        "peak_rss_mb": peak_rss_mb(),
        "peak_rss_mb_after_open": rss_opened,
        "cpu_seconds": cpu_seconds(),
    }


# -- 3. stage costs ---------------------------------------------------------------------------------


def task_stages(params: Params) -> Result:
    """Read, gunzip, split, insert, parse, all views, ledger: one pass each, one thread (bench._stages)."""
    from bench import _stages

    result = _stages.task_stages(params)
    result.update(peak_rss_mb=peak_rss_mb(), cpu_seconds=cpu_seconds())
    return result


# -- 4. DuckDB baseline -----------------------------------------------------------------------------


def task_duckdb(params: Params) -> Result:
    """CREATE TABLE ... AS SELECT unnest(Records) FROM read_json(...) in an in-memory DuckDB."""
    import duckdb

    glob = str(Path(params["logs"]) / "**" / "*.json.gz").replace("'", "''")
    sql = f"CREATE TABLE t AS SELECT unnest(Records) AS r FROM read_json('{glob}', {params['options']})"
    con = duckdb.connect()
    con.execute(f"SET threads = {int(params['threads'])}")
    start = time.perf_counter()
    con.execute(sql)
    seconds = time.perf_counter() - start
    rows = con.execute("SELECT count(*) FROM t").fetchone()
    # What the inferred type kept: records whose sessionContext creationDate survived the load.
    with_context = con.execute(
        "SELECT count(*) FROM t WHERE "
        "json_extract_string(to_json(r), '$.userIdentity.sessionContext.attributes.creationDate') IS NOT NULL"
    ).fetchone()
    column_type = con.execute(
        "SELECT data_type FROM information_schema.columns WHERE table_name = 't'"
    ).fetchone()
    con.close()
    return {
        "sql": sql,
        "seconds": seconds,
        "rows": int(rows[0]) if rows else 0,
        "rows_with_session_context": int(with_context[0]) if with_context else 0,
        "column_type_chars": len(str(column_type[0])) if column_type else 0,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": cpu_seconds(),
    }


TASKS: dict[str, Callable[[Params], Result]] = {
    "demo": task_demo,
    "ingest": task_ingest,
    "stages": task_stages,
    "duckdb": task_duckdb,
}


def main(argv: list[str]) -> int:
    task, params, out = argv
    result = TASKS[task](json.loads(params))
    Path(out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
