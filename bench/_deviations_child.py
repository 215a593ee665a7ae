"""The deviations benchmark's children: `python -m bench._deviations_child TASK PARAMS_JSON RESULT_PATH`."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench._child import cpu_seconds, peak_rss_mb
from clickhouse import migrate, retention, tables
from clickhouse.client import Store
from clickhouse.settings import StoreSettings

Params = dict[str, Any]
Result = dict[str, Any]
BEFORE_DEVIATIONS = "0005"


def _migrations_until(version: str, into: Path) -> Path:
    for path in sorted(migrate.MIGRATIONS_DIR.glob("*.sql")):
        if path.name[:4] <= version:
            shutil.copy(path, into / path.name)
    last = sorted(p.stem for p in into.glob("*.sql"))[-1]
    (into / "LATEST").write_text(last + "\n", encoding="utf-8")
    return into


def task_load(params: Params) -> Result:
    """A fresh store loaded with the demo through the real queue: with every migration and the
    bundled geolocation database, or only up to 0005 with geolocation off."""
    from api.cli import start_workers, wait_for_job
    from ingest import geo
    from ingest.settings import IngestSettings

    root, data_dir, enriched = Path(params["demo"]), Path(params["store"]), bool(params["enriched"])
    shutil.rmtree(data_dir, ignore_errors=True)
    settings = StoreSettings(data_dir=data_dir, retention_days=0)
    store = Store(settings)
    with tempfile.TemporaryDirectory() as folder:
        migrate.apply(
            store, migrate.MIGRATIONS_DIR if enriched else _migrations_until(BEFORE_DEVIATIONS, Path(folder))
        )
    retention.apply_retention(store, 0)
    workers = start_workers(
        store, settings, IngestSettings(worker_threads=int(params["threads"]), redis_url="")
    )
    if not enriched:
        geo.configure(None)
    result: Result = {"enriched": enriched, "threads": int(params["threads"])}
    try:
        start, cpu = time.perf_counter(), cpu_seconds()
        job_id = workers.submit(store, [str(root / "AWSLogs"), str(root / "exports")], "bench-deviations")
        status = wait_for_job(store, job_id, interactive=False)
        result.update(
            load_seconds=time.perf_counter() - start,
            load_cpu_seconds=cpu_seconds() - cpu,
            records_loaded=status.records_loaded,
            records_bad=status.records_bad,
        )
    finally:
        workers.stop()
    if enriched:
        result["geo_addresses"] = int(
            store.scalar(
                f"SELECT uniqExact(source_ip_address) FROM {tables.CLOUDTRAIL_EVENTS} "
                "WHERE source_country != ''"
            )
            or 0
        )
        result["located_events"] = int(
            store.scalar(f"SELECT countIf(source_country != '') FROM {tables.CLOUDTRAIL_EVENTS}") or 0
        )
    store.close()
    result.update(peak_rss_mb=peak_rss_mb())
    return result


def _keys(store: Store, facts: dict[str, Any]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    exfiltration = facts.get("instance_credential_exfiltration")
    if exfiltration:
        keys.append(("instance credentials exfiltrated", str(exfiltration["access_key"])))
    hijack = facts.get("federated_user_chain") or {}
    if hijack.get("source_ip"):
        for (key,) in store.rows(
            f"""SELECT DISTINCT session_key FROM {tables.CLOUDTRAIL_EVENTS}
            WHERE source_ip_address = {{ip:String}} AND is_temporary ORDER BY session_key LIMIT 2""",
            {"ip": hijack["source_ip"]},
        ):
            keys.append(("hijacked chain (new country)", str(key)))
    spike = facts.get("volume_spike")
    if spike:
        for (key,) in store.rows(
            f"""SELECT DISTINCT session_key FROM {tables.CLOUDTRAIL_ROLE_DAYS}
            WHERE role_arn = {{role:String}} AND day = {{day:Date}} ORDER BY session_key LIMIT 1""",
            {"role": spike["role_arn"], "day": spike["day"]},
        ):
            keys.append(("volume spike day", str(key)))
    for (key,) in store.rows(
        f"""SELECT session_key FROM {tables.CLOUDTRAIL_SESSIONS} GROUP BY session_key
        HAVING uniqExactMerge(calls) > 20 ORDER BY cityHash64(session_key) LIMIT 5"""
    ):
        keys.append(("ordinary session", str(key)))
    return keys


def task_measure(params: Params) -> Result:
    from api.cloudtrail import reads as ct_reads
    from api.deviations.compute import Cache, Limits, session_deviations, sessions_deviations
    from api.deviations.schema import _triage_keys
    from api.settings import ApiSettings

    root, data_dir, runs = Path(params["demo"]), Path(params["store"]), int(params["runs"])
    facts = json.loads((root / "demo-facts.txt").read_text(encoding="utf-8"))
    store = Store(StoreSettings(data_dir=data_dir, retention_days=0))
    rows = []
    for name, key in _keys(store, facts):
        times, found = [], []
        before = store.queries_run
        for _ in range(runs):
            start = time.perf_counter()
            found = session_deviations(store, key, Limits(), Cache())
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        rows.append(
            {
                "name": name, "key": key, "p50_ms": statistics.median(times),
                "p95_ms": times[min(len(times) - 1, int(len(times) * 0.95))],
                "queries": (store.queries_run - before) // runs,
                "found": sorted({f"{d.kind}:{d.value}" for d in found})[:6],
            }
        )  # fmt: skip
    last = ct_reads.utc(store.scalar(f"SELECT max(last_seen) FROM {tables.CLOUDTRAIL_SESSIONS}"))
    since = last - timedelta(days=3)
    settings = ApiSettings()
    cache = Cache()
    began = time.perf_counter()
    keys = _triage_keys(store, since, last, None, None, settings)
    scored = []
    for key, deviations in sessions_deviations(store, keys, Limits(), cache).items():
        if deviations:
            kinds = sorted({str(d.kind) for d in deviations})
            scored.append((max(d.severity for d in deviations), len(deviations), key, kinds))
    seconds = time.perf_counter() - began
    scored.sort(reverse=True)
    store.close()
    return {
        "sessions": rows,
        "triage": {
            "scope": f"{since:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}",
            "sessions_examined": len(keys),
            "seconds": seconds,
            "top": [f"{key} {severity:.2f} {kinds}" for severity, _n, key, kinds in scored[:5]],
        },
        "peak_rss_mb": peak_rss_mb(),
    }


TASKS: dict[str, Callable[[Params], Result]] = {"load": task_load, "measure": task_measure}


def main(argv: list[str]) -> int:
    task, params, out = argv
    result = TASKS[task](json.loads(params))
    Path(out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
