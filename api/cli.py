"""The `roletrail` command: serve, worker, ingest, migrate, rebuild (events, flows), demo.

This module is the one place that imports all three packages: in the embedded mode one process
owns the store and runs the API and the ingest workers together.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq

from api.permissions import load_or_create_token
from api.settings import ApiSettings
from clickhouse import flow_rebuild, migrate, rebuild, retention, tables
from clickhouse.client import Store
from clickhouse.errors import StorageError, StoreLocked
from clickhouse.settings import StoreSettings
from ingest import geo, jobs
from ingest.broker import setup_broker
from ingest.claims import Claims, claims_for
from ingest.follow import Follower
from ingest.load import Loader
from ingest.settings import IngestSettings

log = logging.getLogger("roletrail")
SERVER_FILE = "server.json"
EXIT_IO = 2


def open_store(settings: StoreSettings, *, owner: bool) -> Store:
    """Open the store; the owner of an embedded store migrates it and applies the retention."""
    store = Store(settings)
    if owner or settings.embedded:
        migrate.apply(store)
        retention.apply_retention(store, settings.retention_days)
    else:
        migrate.require_latest(store)
    return store


@dataclass
class Workers:
    """Dramatiq workers in this process, with the actors module they run."""

    broker: dramatiq.Broker
    worker: dramatiq.Worker
    actors: ModuleType
    claims: Claims

    def submit(self, store: Store, paths: list[str], requested_by: str) -> str:
        job_id = jobs.create_job(store, paths, requested_by)
        self.actors.discover_objects.send(job_id, paths)
        return job_id

    def stop(self) -> None:
        self.worker.stop()
        self.broker.close()


def start_workers(store: Store, store_settings: StoreSettings, ingest_settings: IngestSettings) -> Workers:
    broker = setup_broker(ingest_settings)
    # Actors bind to the broker current when they are declared: (re)load them after setup_broker.
    loaded = sys.modules.get("ingest.actors")
    actors = importlib.reload(loaded) if loaded else importlib.import_module("ingest.actors")
    geo.configure(geo.from_paths(ingest_settings.geoip_db, ingest_settings.geoip_asn_db))
    claims = claims_for(ingest_settings.redis_url)
    loader = Loader(
        store, store_settings.retention_days, flow_chunk_bytes=ingest_settings.flow_insert_mb * 1024 * 1024
    )
    actors.configure(loader, claims, ingest_settings.load_time_limit_seconds)
    worker = dramatiq.Worker(broker, worker_threads=ingest_settings.worker_threads)
    worker.start()
    return Workers(broker, worker, actors, claims)


def start_follow(store: Store, workers: Workers, settings: IngestSettings) -> threading.Event:
    """Run the follow loop of the configured S3 sources in a thread; set the event to stop it."""
    follower = Follower(
        store,
        workers.claims,
        workers.actors.enqueue_refs,
        workers.actors.plan_backfill.send,
        settings.sources_file,
        # Without Redis the queue died with the previous process: its running backfills start again.
        resume_running=not settings.redis_url,
    )
    return follower.start_thread(settings.follow_tick_seconds)[1]


def wait_for_job(store: Store, job_id: str, interactive: bool) -> jobs.JobStatus:
    while True:
        status = jobs.job_status(store, job_id)
        if status is not None:
            _progress(status.as_dict(), interactive)
            if status.finished:
                return status
        time.sleep(0.25)


def _progress(status: dict[str, Any], interactive: bool) -> None:
    """One progress line, rewritten in place on a terminal."""
    if not interactive:
        return
    total = status["objects_found"] if status["discovered"] else "?"
    line = (
        f"\robjects {status['objects_done']}/{total}  records loaded {status['records_loaded']:,}"
        f"  bad {status['records_bad']:,}  expired {status['records_expired']:,}"
    )
    sys.stderr.write(line)
    sys.stderr.flush()


def print_summary(status: dict[str, Any]) -> None:
    by_status = status.get("by_status", {})
    print()
    print(f"objects: {status['objects_done']} processed, {status['objects_already_loaded']} already loaded")
    for name, count in sorted(by_status.items()):
        print(f"  {name}: {count}")
    print(
        f"records: {status['records_read']:,} read, {status['records_loaded']:,} loaded, "
        f"{status['records_bad']:,} bad, {status['records_expired']:,} older than the retention"
    )
    for problem in status.get("problems", [])[:20]:
        print(
            f"  {problem['status']}: {problem['uri']}: "
            f"{problem['message'] or str(problem['records_bad']) + ' bad'}"
        )
    if status.get("message"):
        print(status["message"])


# -- commands -----------------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    store = Store(StoreSettings())
    try:
        if args.action == "status":
            current = migrate.status(store)
            for name in current.applied:
                print(f"applied  {name}")
            for name in current.pending:
                print(f"pending  {name}")
            return 0
        names = migrate.apply(store)
        retention.apply_retention(store, store.settings.retention_days)
        print("applied: " + (", ".join(names) if names else "nothing, schema is current"))
        return 0
    finally:
        store.close()


def cmd_rebuild(args: argparse.Namespace) -> int:
    store = open_store(StoreSettings(), owner=True)
    try:
        if args.what in ("events", "all"):
            settings = IngestSettings()
            geolocator = geo.from_paths(settings.geoip_db, settings.geoip_asn_db)
            if geolocator is not None:  # events loaded before geolocation existed get it in the replay
                geolocator.add_stored_addresses(store)
            count = rebuild.rebuild(store, lambda p, i, n: print(f"partition {p} ({i}/{n})", file=sys.stderr))
            print(f"rebuilt derived tables from {count} partitions of events")
        if args.what in ("flows", "all"):
            started = time.monotonic()
            done = flow_rebuild.rebuild_flows(
                store, lambda p, i, n: print(f"flow partition {p} ({i}/{n})", file=sys.stderr)
            )
            seconds = time.monotonic() - started
            print(
                f"rebuilt flow rollups from {done.records:,} records in {done.partitions} partitions "
                f"({seconds:.1f} s)"
            )
        return 0
    except rebuild.IngestRunning as exc:
        print(f"rebuild stopped: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def cmd_demo(args: argparse.Namespace) -> int:
    from ingest.demo import write_demo

    summary = write_demo(Path(args.out), events=args.events, seed=args.seed)
    print(f"wrote {summary.events:,} events in {summary.files} files under {summary.root}")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    store_settings = StoreSettings()
    # s3://bucket/prefix is listed by the discovery (credentials from the standard AWS config).
    missing = [p for p in args.paths if not p.startswith("s3://") and not Path(p).exists()]
    if missing:
        print(f"cannot read: {', '.join(missing)}", file=sys.stderr)
        return EXIT_IO
    paths = [p if p.startswith("s3://") else str(Path(p).resolve()) for p in args.paths]
    try:
        store = open_store(store_settings, owner=False)
    except StoreLocked:
        return _hand_over(store_settings, paths)
    workers = start_workers(store, store_settings, IngestSettings())
    try:
        job_id = workers.submit(store, paths, "cli")
        status = wait_for_job(store, job_id, sys.stderr.isatty())
        print_summary(status.as_dict())
        return 0
    finally:
        workers.stop()
        store.close()


def _hand_over(settings: StoreSettings, paths: list[str]) -> int:
    """The embedded store is held by a running server: ask it to do the ingest."""
    info_path = settings.data_dir / SERVER_FILE
    if not info_path.exists():
        print("the store is locked by another process that is not a roletrail server", file=sys.stderr)
        return EXIT_IO
    info = json.loads(info_path.read_text(encoding="utf-8"))
    print(f"the store is in use by the server at {info['url']}: handing the ingest to it", file=sys.stderr)
    headers = {"Authorization": f"Bearer {info['token']}", "Content-Type": "application/json"}
    try:
        job = _http(f"{info['url']}/admin/ingest", headers, {"paths": paths})
        while True:
            status = _http(f"{info['url']}/admin/jobs/{job['job_id']}", headers, None)
            _progress(status, sys.stderr.isatty())
            if status["finished"]:
                print_summary(status)
                return 0
            time.sleep(0.5)
    except urllib.error.HTTPError as exc:
        print(f"the server refused: {exc.read().decode(errors='replace')}", file=sys.stderr)
        return EXIT_IO
    except urllib.error.URLError as exc:
        print(f"cannot reach the server: {exc.reason}", file=sys.stderr)
        return EXIT_IO


def _http(url: str, headers: dict[str, str], body: dict[str, Any] | None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers=headers, method="POST" if data else "GET")  # noqa: S310
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback server from server.json
        result: dict[str, Any] = json.loads(response.read())
        return result


def cmd_worker(args: argparse.Namespace) -> int:
    store_settings = StoreSettings()
    ingest_settings = IngestSettings()
    if not ingest_settings.redis_url:
        print("roletrail worker needs ROLETRAIL_REDIS_URL (the embedded mode runs workers inside serve)")
        return EXIT_IO
    store = open_store(store_settings, owner=False)
    workers = start_workers(store, store_settings, ingest_settings)
    follow = start_follow(store, workers, ingest_settings)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"worker running with {ingest_settings.worker_threads} threads", file=sys.stderr)
    stop.wait()
    follow.set()
    workers.stop()
    store.close()
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import create_app
    from api.sources_admin import source_routes

    store_settings = StoreSettings()
    api_settings = ApiSettings()
    ingest_settings = IngestSettings()
    if args.allow:
        ingest_settings = ingest_settings.model_copy(
            update={"source_roots": tuple(Path(p) for p in args.allow)}
        )
    tokens = api_settings.api_tokens or (load_or_create_token(store_settings.data_dir),)
    store = open_store(store_settings, owner=store_settings.embedded)
    workers = start_workers(store, store_settings, ingest_settings) if args.workers else None
    follow = start_follow(store, workers, ingest_settings) if workers else None
    host, port = args.host or api_settings.host, args.port or api_settings.port
    url = f"http://{host}:{port}"
    with _server_file(store_settings, url, tokens[0]):
        if workers and args.demo_if_empty:
            _load_demo_if_empty(store, store_settings, workers)
        app = create_app(
            api_settings,
            store,
            tokens,
            enqueue=(lambda paths, who: workers.submit(store, paths, who)) if workers else None,
            source_roots=ingest_settings.source_roots,
            job_status=jobs.job_status,
            extra_routes=source_routes(store, store_settings.retention_days),
        )
        print(f"roletrail serving GraphQL at {url}/graphql (GraphiQL: {url}/graphiql#token={tokens[0]})")
        print(f"API token: {tokens[0]}")
        sys.stdout.flush()
        try:
            uvicorn.run(app, host=host, port=port, log_level="info")
        finally:
            if follow:
                follow.set()
            if workers:
                workers.stop()
            store.close()
    return 0


@contextmanager
def _server_file(settings: StoreSettings, url: str, token: str) -> Iterator[None]:
    path = settings.data_dir / SERVER_FILE
    if settings.embedded:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(json.dumps({"url": url, "token": token, "pid": os.getpid()}), encoding="utf-8")
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _load_demo_if_empty(store: Store, settings: StoreSettings, workers: Workers) -> None:
    if store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}"):
        return
    from ingest.demo import write_demo

    root = settings.data_dir / "demo"
    if not (root / "AWSLogs").exists():
        print(f"the store is empty: writing the demo dataset to {root}", file=sys.stderr)
        write_demo(root)
    print("loading the demo dataset", file=sys.stderr)
    job_id = workers.submit(store, [str(root.resolve())], "demo")
    status = wait_for_job(store, job_id, sys.stderr.isatty())
    print(f"\ndemo loaded: {status.records_loaded:,} records", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roletrail", description="Investigate AWS temporary credentials.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the API (and, embedded, the ingest workers)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--no-workers", dest="workers", action="store_false", help="do not run ingest workers")
    serve.add_argument(
        "--demo-if-empty", action="store_true", help="load the demo dataset into an empty store"
    )
    serve.add_argument("--allow", action="append", default=[], help="a folder the ingest endpoint may read")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("worker", help="run a Dramatiq worker (distributed mode)").set_defaults(func=cmd_worker)
    ingest = sub.add_parser("ingest", help="load log files or folders and wait")
    ingest.add_argument("paths", nargs="+")
    ingest.set_defaults(func=cmd_ingest)
    mig = sub.add_parser("migrate", help="apply pending migrations (or show status)")
    mig.add_argument("action", nargs="?", choices=["apply", "status"], default="apply")
    mig.set_defaults(func=cmd_migrate)
    rebuild_cmd = sub.add_parser("rebuild", help="rebuild derived tables from stored events or flow records")
    rebuild_cmd.add_argument(
        "what", nargs="?", choices=["events", "flows", "all"], default="events",
        help="events: tables derived from CloudTrail events (default); flows: the flow log rollups",
    )  # fmt: skip
    rebuild_cmd.set_defaults(func=cmd_rebuild)
    demo = sub.add_parser("demo", help="write the demo dataset (S3 layout)")
    demo.add_argument("--out", default=".roletrail/demo")
    demo.add_argument("--events", type=int, default=50_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    try:
        code: int = args.func(args)
    except StorageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_IO
    return code


if __name__ == "__main__":
    sys.exit(main())
