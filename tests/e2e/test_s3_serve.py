"""`roletrail serve` following an S3 source: killed in the middle of a backfill and restarted, it
loads every object exactly once (checked through the restarted process's API)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_cli import ROLETRAIL, _free_port
from tests.s3fixtures import AWS_ENV, Bucket

pytestmark = pytest.mark.slow

ACCOUNTS = [f"{n}" * 12 for n in range(1, 7)]
REGIONS = ("us-east-1", "eu-west-1", "eu-central-1")
# Four days across a month boundary: every stream is two parts of two days.
START = datetime(2026, 9, 29, 7, 5, tzinfo=UTC)
DAYS = 4
RECORDS = 3


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    token: str

    def call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - loopback test server
            f"{self.url}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return json.loads(response.read())


def _start(data_dir: Path, sources: Path, log: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROLETRAIL_")}
    env.update(AWS_ENV)
    env.update(
        ROLETRAIL_DATA_DIR=str(data_dir),
        ROLETRAIL_RETENTION_DAYS="0",
        ROLETRAIL_SOURCES_FILE=str(sources),
        ROLETRAIL_FOLLOW_TICK_SECONDS="0.3",
        ROLETRAIL_WORKER_THREADS="1",
    )
    port = _free_port()
    with log.open("a") as out:
        process = subprocess.Popen(
            [*ROLETRAIL, "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310
                if response.status == 200:
                    return Server(process, url, (data_dir / "api-token").read_text().strip())
        except OSError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"the server did not start: {log.read_text()[-2000:]}")


@pytest.fixture
def organisation(bucket: Bucket, tmp_path: Path) -> Path:
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in range(DAYS):
                bucket.put_trail(account, region, START + timedelta(days=day), records=RECORDS)
    sources = tmp_path / "sources.toml"
    sources.write_text(
        "[[source]]\n"
        'name = "org-trail"\n'
        f'bucket = "{bucket.name}"\n'
        'region = "us-east-1"\n'
        f'endpoint_url = "{bucket.endpoint}"\n'
        "poll_interval_seconds = 3600\n"
    )
    return sources


def _wait_for(server: Server, backfill_id: str, done: Any, seconds: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status: dict[str, Any] = server.call(f"/admin/backfills/{backfill_id}")
        if done(status):
            return status
        time.sleep(0.1)
    pytest.fail(f"backfill did not get there: {status}")


def test_a_server_killed_during_a_backfill_resumes_and_loads_every_object_once(
    organisation: Path, bucket: Bucket, tmp_path: Path
) -> None:
    # Arrange: a server loading a backfill of 72 objects, killed once some are loaded
    data_dir, log = tmp_path / "data", tmp_path / "serve.log"
    total = len(bucket.keys)
    first = _start(data_dir, organisation, log)
    try:
        started = first.call(
            "/admin/backfills", {"source": "org-trail", "from": "2026-09-29", "to": "2026-10-02"}
        )
        before = _wait_for(first, started["backfill_id"], lambda s: s["objects_loaded"] > 0)
    finally:
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=30)
    assert not before["finished"], "the backfill ended before the kill: nothing was shown"
    # Act: the server started again on the same store
    second = _start(data_dir, organisation, log)
    try:
        after = _wait_for(second, started["backfill_id"], lambda s: s["state"] == "finished")
        query = "{ ingestHealth { streams { source objectsLoaded recordsLoaded objectsWithErrors } } }"
        health = second.call("/graphql", {"query": query})
    finally:
        second.process.send_signal(signal.SIGINT)
        second.process.wait(timeout=30)
    # Assert: the new run skipped what was loaded, loaded the rest once, and the store holds it all
    assert after["objects_already_loaded"] >= before["objects_loaded"]
    assert after["objects_already_loaded"] + after["objects_loaded"] == total
    streams = health["data"]["ingestHealth"]["streams"]
    assert len(streams) == len(ACCOUNTS) * len(REGIONS)
    assert {s["source"] for s in streams} == {"org-trail"}
    assert sum(s["objectsLoaded"] for s in streams) == total
    assert sum(s["recordsLoaded"] for s in streams) == total * RECORDS
    assert sum(s["objectsWithErrors"] for s in streams) == 0
