"""GuardDuty benchmark: `python -m bench.guardduty [--findings N] [--requests R]`.

Prints figures, asserts nothing. On a scratch embedded store (retention 0):

1. an S3 export of N findings in objects of 1,000 lines, each finding updated once in a later
   object (2N versions): load rate in finding versions per second through the real Loader;
2. the three-hop chain of tests/data/guardduty/chain.py loaded beside them, then question 1 of the
   README (`finding(id:)` with origins, sessions, chains and calls) R times through the real app
   (Starlette TestClient, in-process): p50 and p95 latency.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from clickhouse import migrate
from clickhouse.client import Store
from clickhouse.retention import apply_retention
from clickhouse.settings import StoreSettings
from ingest.load import Loader
from ingest.sources import walk
from tests.data.api.harness import open_api
from tests.data.attribution.records import at
from tests.data.guardduty import chain

PER_OBJECT = 1000


def _exports(root: Path, count: int) -> int:
    """Write count findings twice (first version, then updated) as export objects; returns versions."""
    written = 0
    for version in (0, 1):
        for start in range(0, count, PER_OBJECT):
            lines = []
            for n in range(start, min(count, start + PER_OBJECT)):
                finding = chain.finding_json(updated=at(10 + version), count=1 + version * 4)
                finding["id"] = f"{n:032x}"
                finding["resource"]["accessKeyDetails"]["accessKeyId"] = f"ASIABENCH{n:011d}"
                lines.append(orjson.dumps(finding))
            name = f"v{version}-{start}"
            path = root / f"AWSLogs/{chain.DEV}/GuardDuty/us-east-1/2024/06/03/{name}.jsonl.gz"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(gzip.compress(b"\n".join(lines)))
            written += len(lines)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.guardduty")
    parser.add_argument("--findings", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        store = Store(StoreSettings(data_dir=root / "store"), database="bench_guardduty")
        try:
            migrate.apply(store)
            apply_retention(store, 0)
            loader = Loader(store, 0)
            versions = _exports(root / "logs", args.findings)
            refs = list(walk(root / "logs"))
            began = time.perf_counter()
            results = loader.load_many(refs)
            seconds = time.perf_counter() - began
            loaded = sum(r.records_loaded for r in results)
            rate = loaded / seconds
            print(
                f"load: {loaded:,} of {versions:,} finding versions in {len(refs)} objects, "
                f"{seconds:.2f} s, {rate:,.0f}/s"
            )
            written = chain.write(root / "chain")
            loader.load_many([*(r for p in written.trails for r in walk(p)), *walk(written.export)])
            query = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
            query = query.split("**Which federated user invoked the API calls behind this finding?**", 1)[1]
            query = query.split("```graphql", 1)[1].split("```", 1)[0]
            timings = []
            with open_api(store) as api:
                api.data(query, {"id": chain.FINDING_ID})
                for _ in range(args.requests):
                    began = time.perf_counter()
                    found = api.data(query, {"id": chain.FINDING_ID})["finding"]
                    timings.append((time.perf_counter() - began) * 1000)
            assert found["origins"], "question 1 found no origin"
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            p50 = statistics.median(timings)
            print(
                f"question 1 beside {args.findings:,} findings: p50 {p50:.1f} ms, p95 {p95:.1f} ms "
                f"({len(timings)} requests)"
            )
        finally:
            store.close()


if __name__ == "__main__":
    main()
