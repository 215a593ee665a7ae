"""The read benchmark's children: `python -m bench._reads_child TASK PARAMS_JSON RESULT_PATH`.

`load` fills (or checks) the kept store of a demo dataset; `measure` opens that store, serves the
real app with uvicorn on a loopback port in a thread and measures GraphQL requests over HTTP, then
chain + origin resolution in-process. chDB allows one data path per process: each task is a
process of its own, and its peak RSS is its own. The child writes a JSON object to RESULT_PATH.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import re
import secrets
import shutil
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from clickhouse_connect.driver.client import Client

from bench._child import cpu_seconds, peak_rss_mb, trail_files
from clickhouse import tables
from clickhouse.client import Store
from clickhouse.settings import StoreSettings

Params = dict[str, Any]
Result = dict[str, Any]

# Ledger statuses that leave nothing to load again (ingest.load: loaded, skipped, duplicate).
DONE_STATUSES = ("loaded", "skipped", "duplicate")
MERGE_WAIT_SECONDS = 600.0


# -- shared -----------------------------------------------------------------------------------------


def demo_objects(root: Path) -> dict[str, int]:
    """The files of a demo dataset that a load reads (trail files and exports), by URI: size."""
    files = [*trail_files(root / "AWSLogs"), *sorted((root / "exports").glob("*.json"))]
    return {str(path.resolve()): path.stat().st_size for path in files}


def ledger_state(store: Store, expected: Mapping[str, int]) -> Result:
    """What the ledger says about the demo's objects: done, missing, failed, or of another dataset."""
    rows = store.rows(
        f"SELECT uri, status, size, records_loaded, log_type FROM {tables.INGEST_OBJECTS} FINAL"
    )
    by_uri = {
        str(uri): (str(status), int(size), int(loaded), str(kind)) for uri, status, size, loaded, kind in rows
    }
    done = missing = not_done = other_size = 0
    records = 0
    for uri, size in expected.items():
        found = by_uri.get(uri)
        if found is None:
            missing += 1
        elif found[1] != size:
            other_size += 1
        elif found[0] not in DONE_STATUSES:
            not_done += 1
        else:
            done += 1
            records += found[2] if found[3] == "cloudtrail" else 0
    statuses: dict[str, int] = {}
    for status, *_rest in by_uri.values():
        statuses[status] = statuses.get(status, 0) + 1
    return {
        "objects_expected": len(expected),
        "objects_done": done,
        "objects_missing": missing,
        "objects_not_done": not_done,
        "objects_of_other_size": other_size,
        "ledger_rows": len(by_uri),
        "ledger_statuses": statuses,
        "cloudtrail_records_loaded": records,
        "complete": done == len(expected) and len(by_uri) == len(expected),
    }


def wait_for_merges(store: Store, limit: float) -> Result:
    """Wait until no merge runs (the store at rest), at most `limit` seconds."""
    start = time.perf_counter()
    running = 0
    while time.perf_counter() - start < limit:
        running = int(store.scalar("SELECT count() FROM system.merges") or 0)
        if running == 0:
            break
        time.sleep(1.0)
    return {"merge_wait_seconds": time.perf_counter() - start, "merges_running": running}


def _disk_bytes(root: Path) -> int:
    """Bytes under root; background merges remove parts while we walk, so vanished entries are skipped."""
    total = 0
    for directory, _dirs, files in os.walk(root, onerror=lambda _error: None):
        for name in files:
            try:
                total += (Path(directory) / name).stat().st_size
            except FileNotFoundError:
                continue
    return total


def store_stats(store: Store, data_dir: Path) -> Result:
    parts = store.rows(
        """SELECT table, count(), sum(rows), sum(bytes_on_disk) FROM system.parts
        WHERE active AND database = currentDatabase() GROUP BY table ORDER BY table"""
    )
    sessions = store.scalar(
        f"SELECT count() FROM (SELECT session_key FROM {tables.CLOUDTRAIL_SESSIONS} GROUP BY session_key)"
    )
    issued = store.scalar(f"SELECT uniqExact(access_key_id) FROM {tables.CLOUDTRAIL_ISSUANCES}")
    disk = _disk_bytes(data_dir)
    return {
        "tables": {
            str(table): {"parts": int(n), "rows": int(rows), "bytes": int(size)}
            for table, n, rows, size in parts
        },
        "sessions": int(sessions or 0),
        "minted_keys": int(issued or 0),
        "store_bytes": disk,
    }


# -- 1. load the kept store -------------------------------------------------------------------------


def task_load(params: Params) -> Result:
    """Reuse the store when its ledger has every demo object done; else load what is missing."""
    from api.cli import open_store, start_workers, wait_for_job
    from ingest.settings import IngestSettings

    root, data_dir = Path(params["demo"]), Path(params["store"])
    expected = demo_objects(root)
    settings = StoreSettings(data_dir=data_dir, retention_days=0)
    store = open_store(settings, owner=True)
    before = ledger_state(store, expected)
    result: Result = {"ledger_before": before, "reused": before["complete"]}
    if before["objects_of_other_size"] or before["ledger_rows"] > len(expected):
        # Objects of another dataset (the demo was written again): start from an empty store.
        store.close()
        shutil.rmtree(data_dir)
        store = open_store(settings, owner=True)
        result["wiped"] = True
    try:
        if not before["complete"]:
            workers = start_workers(
                store, settings, IngestSettings(worker_threads=int(params["threads"]), redis_url="")
            )
            try:
                start = time.perf_counter()
                cpu = cpu_seconds()
                job_id = workers.submit(store, [str(root / "AWSLogs"), str(root / "exports")], "bench-reads")
                status = wait_for_job(store, job_id, interactive=False)
                result.update(
                    load_seconds=time.perf_counter() - start,
                    load_cpu_seconds=cpu_seconds() - cpu,
                    threads=int(params["threads"]),
                    by_status=status.by_status,
                    records_loaded=status.records_loaded,
                    records_bad=status.records_bad,
                    problems=[f"{p.status}: {p.uri}: {p.message}" for p in status.problems[:10]],
                )
            finally:
                workers.stop()
        # Background merges after a load: measure reads on a store at rest.
        result.update(wait_for_merges(store, MERGE_WAIT_SECONDS))
        result["ledger"] = ledger_state(store, expected)
        result["store"] = store_stats(store, data_dir)
        result["events"] = int(store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}") or 0)
        result["engine_version"] = str(store.scalar("SELECT version()"))
    finally:
        store.close()
    result.update(peak_rss_mb=peak_rss_mb(), cpu_seconds=cpu_seconds())
    return result


# -- 2. measure reads -------------------------------------------------------------------------------


@dataclass
class Tally:
    """The statements one call site sent under one label: times only, plus the slowest one's
    parameters (kept small: a list per statement would grow the heap the collector walks)."""

    ms: list[float] = field(default_factory=list)
    rows: int = 0
    worst_ms: float = -1.0
    worst_params: dict[str, Any] = field(default_factory=dict)


# (label, read function that sent it, SQL text)
TallyKey = tuple[str, str, str]


class TimedStore(Store):
    """The project's Store, tallying each statement's time under the current measurement label."""

    label: str | None = None

    def __init__(self, settings: StoreSettings) -> None:
        super().__init__(settings)
        self.tallies: dict[TallyKey, Tally] = {}
        self.connects: list[float] = []  # ms each new client (one per concurrent call reached) took to open
        self._record_lock = threading.Lock()

    def _connect(self, database: str | None) -> Client:
        start = time.perf_counter()
        client = super()._connect(database)
        with self._record_lock:
            self.connects.append((time.perf_counter() - start) * 1000)
        return client

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = super()._run(method, *args, **kwargs)
        ms = (time.perf_counter() - start) * 1000
        label = self.label
        if label is not None and args and isinstance(args[0], str):
            rows = len(getattr(result, "result_rows", None) or [])
            key = (label, _sender(), args[0])
            with self._record_lock:
                tally = self.tallies.setdefault(key, Tally())
                tally.ms.append(ms)
                tally.rows += rows
                if ms > tally.worst_ms:
                    tally.worst_ms, tally.worst_params = ms, dict(kwargs.get("parameters") or {})
        return result


def _sender() -> str:
    """The function of api/cloudtrail/reads.py (or the first caller outside the store) that ran SQL."""
    frame: FrameType | None = sys._getframe(2)
    fallback = ""
    for _ in range(12):
        if frame is None:
            break
        path = Path(frame.f_code.co_filename)
        if path.name == "reads.py" and path.parent.name == "cloudtrail":
            return frame.f_code.co_name
        if not fallback and path.name != "client.py":
            fallback = f"{path.stem}.{frame.f_code.co_name}"
        frame = frame.f_back
    return fallback or "?"


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in [0, 100])."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_figures(ms: list[float]) -> Result:
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p99_ms": percentile(ms, 99),
        "mean_ms": sum(ms) / len(ms) if ms else math.nan,
        "min_ms": min(ms) if ms else math.nan,
        "max_ms": max(ms) if ms else math.nan,
    }


# The four questions exactly as README.md writes them; the literals naming erin, the instance and
# OpsAdmin are swapped for the demo's facts before sending (see `questions`).
README_Q1 = """query ($key: String!) {
  session(accessKeyId: $key) {
    credentialKind roleArn accountId issuedAt expiresAt canStillBeValid apiCallCount
    origin { kind identifier displayName accountName }
    chain { accessKeyId roleArn accountId credentialKind }
    chainGap { accountId roleArn principalId time }
    sourceIdentity sourceIdentityDisagrees onBehalfOf onBehalfOfUser { identifier }
    transitiveTags { key value }
  }
}"""
README_Q2 = """{
  principal(kind: IDENTITY_CENTER_USER, identifier: "erin@example.com") {
    sessionCount apiCallCount directApiCallCount
    apiCallsByApi { service name calls errors }
    apiCalls(first: 100) { edges { node { eventTime eventSource eventName errorCode sourceIpAddress } }
                           pageInfo { hasNextPage endCursor } }
    roles { arn accountName }
  }
}"""
README_Q3 = """{
  instance(id: "i-0a1b2c3d4e5f60718") {
    sessionCount apiCallCount
    sessions(first: 50) { edges { node { accessKeyId issuedAt apiCallCount sourceIps
                                         apiCalls(first: 20) { edges { node { eventName sourceIpAddress } } } } } }
  }
}"""  # noqa: E501 (as README.md writes it)
README_Q4 = """{
  role(arn: "arn:aws:iam::222222222222:role/OpsAdmin") {
    sessionCount stillValidSessionCount revokeSessionsIssuedBefore
    originUsage { principal { kind identifier displayName accountName } sessionCount apiCallCount lastUsed }
  }
}"""
README_QUERIES = {"q1": README_Q1, "q2": README_Q2, "q3": README_Q3, "q4": README_Q4}

SESSION_DETAIL = """query ($key: String!) {
  session(accessKeyId: $key) {
    accessKeyId credentialKind roleArn accountId issuedAt apiCallCount errorCount distinctApiCount
    origin { kind identifier displayName }
    chain { accessKeyId roleArn accountId credentialKind }
    chainGap { accountId roleArn principalId time }
  }
}"""


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def readme_in_sync(readme: Path) -> dict[str, bool]:
    """Whether each question's text above is still the one README.md shows."""
    text = _squash(readme.read_text(encoding="utf-8")) if readme.exists() else ""
    return {name: _squash(query) in text for name, query in README_QUERIES.items()}


Check = Callable[[dict[str, Any]], str]


@dataclass(frozen=True)
class Probe:
    name: str
    group: str  # "session" (detail of one credential) or "question"
    query: str
    variables: dict[str, Any]
    check: Check


def _origin(session: dict[str, Any]) -> str:
    origin = session.get("origin") or {}
    return f"{origin.get('kind')} {origin.get('identifier')}" if origin else "no origin"


def _session_check(expected: Mapping[str, Any]) -> Check:
    """What a session answer says, against what the demo's facts say it should."""

    def check(data: dict[str, Any]) -> str:
        session = data.get("session")
        if not session:
            return "DIFFERS: session is null"
        chain = [hop["accessKeyId"] for hop in session.get("chain") or []]
        gap = session.get("chainGap")
        said = f"origin {_origin(session)}, chain {len(chain)}" + (f", gap {gap['accountId']}" if gap else "")
        wrong = []
        if "origin" in expected and (session.get("origin") or {}).get("identifier") != expected["origin"]:
            wrong.append(f"origin should be {expected['origin']}")
        if "chain" in expected and chain != expected["chain"]:
            wrong.append(f"chain should be {expected['chain']}")
        if "gap" in expected and (gap or {}).get("accountId") != expected["gap"]:
            wrong.append(f"gap should be in {expected['gap']}")
        return f"{said}: " + ("; ".join(wrong) if wrong else "as in facts")

    return check


def _principal_check(data: dict[str, Any]) -> str:
    found = data.get("principal")
    if not found:
        return "DIFFERS: principal is null"
    calls = len(found["apiCalls"]["edges"])
    return (
        f"{found['sessionCount']} sessions, {found['apiCallCount']:,} calls, "
        f"{len(found['apiCallsByApi'])} APIs, {calls} calls listed, {len(found['roles'])} roles"
    )


def _instance_check(key: str) -> Check:
    def check(data: dict[str, Any]) -> str:
        found = data.get("instance")
        if not found:
            return "DIFFERS: instance is null"
        keys = [edge["node"]["accessKeyId"] for edge in found["sessions"]["edges"]]
        listed = "exfiltrated key listed" if key in keys else f"DIFFERS: {key} not among the 50 sessions"
        return f"{found['sessionCount']} sessions, {found['apiCallCount']:,} calls, {listed}"

    return check


def _role_check(origins: list[str]) -> Check:
    def check(data: dict[str, Any]) -> str:
        found = data.get("role")
        if not found:
            return "DIFFERS: role is null"
        usage = found["originUsage"]
        named = {item["principal"]["identifier"] for item in usage}
        lacking = [o for o in origins if o not in named]
        verdict = "every origin of the facts" if not lacking else f"DIFFERS: lacks {lacking}"
        return f"{found['sessionCount']} sessions, {len(usage)} origins: {verdict}"

    return check


def probes(facts: dict[str, Any]) -> list[Probe]:
    deep, federated = facts["deep_chain"], facts["federated_user_chain"]
    exfil, missing = facts["instance_credential_exfiltration"], facts["missing_account"]
    role = facts["cross_account_role"]
    # The chain field lists ancestors nearest first, as the facts do.
    sessions = [
        Probe(
            "session: deep chain leaf",
            "session",
            SESSION_DETAIL,
            {"key": deep["leaf_access_key"]},
            _session_check(
                {"origin": deep["origin_identifier"], "chain": deep["chain_access_keys"]},
            ),
        ),
        Probe(
            "session: federated chain leaf",
            "session",
            SESSION_DETAIL,
            {"key": federated["leaf_access_key"]},
            _session_check(
                {"origin": federated["origin_identifier"], "chain": federated["chain_access_keys"]}
            ),
        ),
        Probe(
            "session: exfiltrated instance key",
            "session",
            SESSION_DETAIL,
            {"key": exfil["access_key"]},
            _session_check({"origin": exfil["instance_id"], "chain": []}),
        ),
        Probe(
            "session: missing-account leaf",
            "session",
            SESSION_DETAIL,
            {"key": missing["leaf_access_key"]},
            # The true origin (facts) is behind the unlogged account: the answer is the gap.
            _session_check({"gap": missing["gap_account_id"]}),
        ),
    ]
    q2 = README_Q2.replace("erin@example.com", federated["origin_identifier"]).replace(
        "IDENTITY_CENTER_USER", federated["origin_kind"]
    )
    questions = [
        Probe(
            "Q1 who is behind this key (deep leaf)",
            "question",
            README_Q1,
            {"key": deep["leaf_access_key"]},
            _session_check({"origin": deep["origin_identifier"], "chain": deep["chain_access_keys"]}),
        ),
        Probe(
            "Q2 what did this person do (frank)",
            "question",
            q2,
            {},
            _principal_check,
        ),
        Probe(
            "Q3 what did this instance do",
            "question",
            README_Q3.replace("i-0a1b2c3d4e5f60718", exfil["instance_id"]),
            {},
            _instance_check(exfil["access_key"]),
        ),
        Probe(
            "Q4 who uses this cross-account role",
            "question",
            README_Q4.replace("arn:aws:iam::222222222222:role/OpsAdmin", role["role_arn"]),
            {},
            _role_check([o["identifier"] for o in role["origins"]]),
        ),
    ]
    return sessions + questions


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """uvicorn on a free loopback port in a thread of this process; yields the base URL."""
    import uvicorn

    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (as the
    # ones uvicorn binds itself); with proto 0 every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    # As `roletrail serve` runs it, minus the access log (one line per request).
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def _outcome(status: int, text: str) -> tuple[dict[str, Any], str]:
    """The answer's data and an error text ('' when the answer is a clean 200)."""
    try:
        body = json.loads(text)
    except ValueError:
        return {}, f"HTTP {status}: {text[:200]}"
    if status != 200 or body.get("errors"):
        return body.get("data") or {}, f"HTTP {status}: {json.dumps(body.get('errors'))[:300]}"
    return body.get("data") or {}, ""


def _payload(probe: Probe) -> dict[str, Any]:
    return {"query": probe.query, "variables": probe.variables}


def measure_sequential(
    store: TimedStore, base: str, token: str, probe: Probe, warmup: int, count: int, cap: float
) -> Result:
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300) as client:
        for _ in range(warmup):
            client.post("/graphql", json=_payload(probe))
        times: list[float] = []
        errors, first_error = 0, ""
        data: dict[str, Any] = {}
        store.label = f"seq:{probe.name}"
        start = time.perf_counter()
        for _ in range(count):
            begin = time.perf_counter()
            response = client.post("/graphql", json=_payload(probe))
            times.append((time.perf_counter() - begin) * 1000)
            data, error = _outcome(response.status_code, response.text)
            if error:
                errors += 1
                first_error = first_error or error
            if time.perf_counter() - start > cap and len(times) >= 10:
                break
        store.label = None
    result = latency_figures(times)
    result.update(
        name=probe.name,
        group=probe.group,
        errors=errors,
        first_error=first_error,
        capped=len(times) < count,
        answer=probe.check(data) if data else "no data",
        response_bytes=len(json.dumps(data)),
    )
    return result


async def _concurrent(
    base: str, token: str, plans: list[list[Probe]], store: TimedStore, label: str
) -> tuple[dict[str, list[float]], float, int, str]:
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {token}"}
    timings: dict[str, list[float]] = {}
    errors, first_error = 0, ""
    clients = [
        httpx.AsyncClient(base_url=base, headers=headers, timeout=600, limits=httpx.Limits(max_connections=1))
        for _ in plans
    ]
    try:
        # Warm-up: every client opens its connection and sends its first request once.
        await asyncio.gather(
            *(
                client.post("/graphql", json=_payload(plan[0]))
                for client, plan in zip(clients, plans, strict=True)
            )
        )

        async def run(client: Any, plan: list[Probe]) -> None:
            nonlocal errors, first_error
            for probe in plan:
                begin = time.perf_counter()
                response = await client.post("/graphql", json=_payload(probe))
                timings.setdefault(probe.name, []).append((time.perf_counter() - begin) * 1000)
                _data, error = _outcome(response.status_code, response.text)
                if error:
                    errors += 1
                    first_error = first_error or error

        store.label = label
        start = time.perf_counter()
        await asyncio.gather(*(run(client, plan) for client, plan in zip(clients, plans, strict=True)))
        wall = time.perf_counter() - start
        store.label = None
    finally:
        for client in clients:
            await client.aclose()
    return timings, wall, errors, first_error


def measure_concurrent(
    store: TimedStore, base: str, token: str, name: str, plans: list[list[Probe]]
) -> Result:
    timings, wall, errors, first_error = asyncio.run(_concurrent(base, token, plans, store, f"conc:{name}"))
    every = [ms for values in timings.values() for ms in values]
    result = latency_figures(every)
    result.update(
        name=name,
        clients=len(plans),
        wall_seconds=wall,
        requests_per_s=len(every) / wall if wall > 0 else math.nan,
        errors=errors,
        first_error=first_error,
    )
    if len(timings) > 1:
        result["by_probe"] = {probe: latency_figures(values) for probe, values in timings.items()}
    return result


def measure_lineage(store: TimedStore, keys: list[tuple[str, str]], runs: int) -> list[Result]:
    """api.cloudtrail.lineage.resolve(store, [key]) in this thread: chain + origin alone."""
    from api.cloudtrail import lineage

    results = []
    for name, key in keys:
        for _ in range(5):
            lineage.resolve(store, [key])
        times = []
        store.label = f"lineage:{name}"
        for _ in range(runs):
            begin = time.perf_counter()
            found = lineage.resolve(store, [key])
            times.append((time.perf_counter() - begin) * 1000)
        store.label = None
        line = found.get(key)
        origin = f"{line.origin.kind.value} {line.origin.identifier}" if line and line.origin else "no origin"
        depth = len(line.ancestors) if line else 0
        result = latency_figures(times)
        result.update(name=name, key=key, answer=f"origin {origin}, chain {depth}")
        results.append(result)
    return results


def measure_http_floor(base: str, token: str, warmup: int, count: int) -> list[Result]:
    """What any request costs over HTTP: /health (threadpool + SELECT 1) and `{ __typename }`."""
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {token}"}
    results = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        steps: list[tuple[str, Callable[[], Any]]] = [
            ("GET /health", lambda: client.get("/health")),
            (
                "POST /graphql { __typename }",
                lambda: client.post("/graphql", json={"query": "{ __typename }"}),
            ),
        ]
        for name, step in steps:
            for _ in range(warmup):
                step()
            times = []
            for _ in range(count):
                begin = time.perf_counter()
                step()
                times.append((time.perf_counter() - begin) * 1000)
            result = latency_figures(times)
            result["name"] = name
            results.append(result)
    return results


def measure_execute(
    store: TimedStore, settings: Any, chosen: list[Probe], runs: int, cap: float
) -> list[Result]:
    """The same GraphQL requests without HTTP: schema.execute in this thread's event loop, with a
    fresh context (and DataLoaders) per request as the app makes one."""
    from api.context import Context
    from api.loaders import Loaders
    from api.schema import build_schema

    schema = build_schema(settings)

    async def once(probe: Probe) -> str:
        context = Context(settings, store, Loaders.create(store), "bench", "bench")
        result = await schema.execute(probe.query, variable_values=probe.variables, context_value=context)
        return str(result.errors[0])[:300] if result.errors else ""

    async def run_all() -> list[Result]:
        results = []
        for probe in chosen:
            for _ in range(3):
                await once(probe)
            times, errors, first_error = [], 0, ""
            store.label = f"exec:{probe.name}"
            start = time.perf_counter()
            for _ in range(runs):
                begin = time.perf_counter()
                error = await once(probe)
                times.append((time.perf_counter() - begin) * 1000)
                if error:
                    errors += 1
                    first_error = first_error or error
                if time.perf_counter() - start > cap and len(times) >= 5:
                    break
            store.label = None
            result = latency_figures(times)
            result.update(name=probe.name, errors=errors, first_error=first_error)
            results.append(result)
        return results

    return asyncio.run(run_all())


def measure_floor(store: TimedStore, key: str, runs: int) -> list[Result]:
    """The cost of one statement, in-process: the floor under every level of a chain walk."""
    from api.cloudtrail import reads

    steps: list[tuple[str, Callable[[], object]]] = [
        ("store.rows('SELECT 1')", lambda: store.rows("SELECT 1")),
        ("reads.issuances([deep leaf])", lambda: reads.issuances(store, [key])),
        ("reads.session_usage([deep leaf])", lambda: reads.session_usage(store, [key])),
    ]
    results = []
    for name, step in steps:
        for _ in range(5):
            step()
        times = []
        for _ in range(runs):
            begin = time.perf_counter()
            step()
            times.append((time.perf_counter() - begin) * 1000)
        result = latency_figures(times)
        result["name"] = name
        results.append(result)
    return results


def _template(sql: str) -> str:
    return _squash(sql)


def statement_figures(tallies: Mapping[TallyKey, Tally], requests: Mapping[str, int]) -> Result:
    """Per measurement label: statements and SQL time per request, by the read function that sent
    them; overall (sequential runs and lineage): the SQL templates that took the most time."""
    per_label: dict[str, Result] = {}
    for label in sorted({key[0] for key in tallies}):
        n = max(1, requests.get(label, 1))
        by_function: dict[str, list[float]] = {}
        for (mine, function, _sql), tally in tallies.items():
            if mine == label:
                by_function.setdefault(function, []).extend(tally.ms)
        every = [ms for values in by_function.values() for ms in values]
        per_label[label] = {
            "statements_per_request": len(every) / n,
            "sql_ms_per_request": sum(every) / n,
            "by_function": [
                {"function": name, "per_request": len(ms) / n, "ms_per_request": sum(ms) / n}
                for name, ms in sorted(by_function.items(), key=lambda item: -sum(item[1]))
            ],
        }
    templates: dict[tuple[str, str], list[tuple[str, str, Tally]]] = {}
    for (label, function, sql), tally in tallies.items():
        if label.startswith(("seq:", "lineage:")):
            templates.setdefault((function, _template(sql)), []).append((label, sql, tally))
    total = {key: sum(sum(t.ms) for _l, _s, t in group) for key, group in templates.items()}
    top = []
    for function, template in sorted(templates, key=lambda key: -total[key])[:10]:
        group = templates[(function, template)]
        ms = [value for _label, _sql, tally in group for value in tally.ms]
        _label, worst_sql, worst = max(group, key=lambda item: item[2].worst_ms)
        top.append(
            {
                "function": function,
                "sql": template,
                "count": len(ms),
                "total_ms": sum(ms),
                "p50_ms": percentile(ms, 50),
                "max_ms": max(ms),
                "mean_result_rows": sum(t.rows for _l, _s, t in group) / len(ms),
                "labels": sorted({label for label, _sql, _tally in group}),
                "_worst": (worst_sql, worst.worst_params),
            }
        )
    return {"per_label": per_label, "top": top}


def explain_estimates(store: Store, top: list[Result], limit: int = 8) -> None:
    """EXPLAIN ESTIMATE (parts, rows and marks each table read needs) of the slowest statements,
    with the parameters of their slowest run."""
    for item in top[:limit]:
        sql, params = item.pop("_worst")
        item["worst_params"] = {k: _short(v) for k, v in params.items()}
        try:
            rows = store.rows("EXPLAIN ESTIMATE " + sql, params)
            item["estimate"] = [
                {"table": str(r[1]), "parts": int(r[2]), "rows": int(r[3]), "marks": int(r[4])} for r in rows
            ]
        except Exception as exc:  # an estimate is an aid, not a figure: report and go on
            item["estimate_error"] = str(exc).splitlines()[0][:200]
    for item in top[limit:]:
        item.pop("_worst", None)


def _short(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return f"{len(value)} values" if len(value) > 3 else [str(v) for v in value]
    return str(value)


def task_measure(params: Params) -> Result:
    from api.app import create_app
    from api.settings import ApiSettings
    from clickhouse import migrate

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    root, data_dir = Path(params["demo"]), Path(params["store"])
    facts: dict[str, Any] = json.loads((root / "demo-facts.txt").read_text(encoding="utf-8"))
    warmup, count, clients = int(params["warmup"]), int(params["requests"]), int(params["clients"])
    cap = float(params["cap_seconds"])
    started = time.perf_counter()
    store = TimedStore(StoreSettings(data_dir=data_dir, retention_days=0))
    migrate.require_latest(store)
    opened = time.perf_counter() - started
    at_rest = wait_for_merges(store, MERGE_WAIT_SECONDS)
    stats = store_stats(store, data_dir)
    token = secrets.token_urlsafe(32)
    api_settings = ApiSettings(api_tokens=(token,))
    app = create_app(api_settings, store, (token,))
    chosen = probes(facts)
    sequential: list[Result] = []
    concurrent: list[Result] = []
    try:
        with serving(app) as base:
            print("HTTP floor", flush=True)
            http_floor = measure_http_floor(base, token, warmup, count)
            for probe in chosen:
                print(f"sequential: {probe.name}", flush=True)
                sequential.append(measure_sequential(store, base, token, probe, warmup, count, cap))
                print(f"  {sequential[-1]['p50_ms']:.1f} ms p50, {sequential[-1]['answer']}", flush=True)
            per_client = max(4, math.ceil(count / clients))
            for probe in chosen:
                print(f"{clients} clients: {probe.name}", flush=True)
                concurrent.append(
                    measure_concurrent(store, base, token, probe.name, [[probe] * per_client] * clients)
                )
                print(f"  {concurrent[-1]['p99_ms']:.1f} ms p99", flush=True)
            # Every client goes through every probe, each starting at another one.
            mixed = [chosen[i % len(chosen) :] + chosen[: i % len(chosen)] for i in range(clients)]
            print(f"{clients} clients: mixed", flush=True)
            concurrent.append(measure_concurrent(store, base, token, "mixed: all probes", mixed))
        keys = [
            ("deep chain leaf", facts["deep_chain"]["leaf_access_key"]),
            ("federated chain leaf", facts["federated_user_chain"]["leaf_access_key"]),
            ("exfiltrated instance key", facts["instance_credential_exfiltration"]["access_key"]),
            ("missing-account leaf", facts["missing_account"]["leaf_access_key"]),
        ]
        print("lineage.resolve in-process", flush=True)
        lineage_results = measure_lineage(store, keys, int(params["lineage_runs"]))
        floor = measure_floor(store, keys[0][1], int(params["lineage_runs"]))
        print("schema.execute in-process", flush=True)
        executed = measure_execute(store, api_settings, chosen, int(params["exec_runs"]), cap)
        requests = {f"seq:{r['name']}": int(r["n"]) for r in sequential}
        requests.update({f"conc:{r['name']}": int(r["n"]) for r in concurrent})
        requests.update({f"lineage:{r['name']}": int(r["n"]) for r in lineage_results})
        requests.update({f"exec:{r['name']}": int(r["n"]) for r in executed})
        sql = statement_figures(store.tallies, requests)
        explain_estimates(store, sql["top"])
        engine = str(store.scalar("SELECT version()"))
    finally:
        store.close()
    return {
        "engine_version": engine,
        "open_seconds": opened,
        "at_rest": at_rest,
        "store": stats,
        "readme_in_sync": readme_in_sync(Path(params["readme"])),
        "warmup": warmup,
        "sequential": sequential,
        "concurrent": concurrent,
        "lineage": lineage_results,
        "floor": floor,
        "http_floor": http_floor,
        "executed": executed,
        "clients_opened": len(store.connects),
        "client_open_ms": latency_figures(store.connects),
        "sql": sql,
        "peak_rss_mb": peak_rss_mb(),
        "cpu_seconds": cpu_seconds(),
    }


TASKS: dict[str, Callable[[Params], Result]] = {"load": task_load, "measure": task_measure}


def main(argv: list[str]) -> int:
    task, params, out = argv
    result = TASKS[task](json.loads(params))
    Path(out).write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
