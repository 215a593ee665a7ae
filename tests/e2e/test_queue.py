"""Ingest through the queue: a real broker, an in-process Dramatiq worker, the embedded store.

Both brokers the product uses are exercised: Redis (when a URL is configured; skipped locally
without a Redis server, failed under CI) and the in-process StubBroker (embedded mode without
Redis). Actors bind to the broker that is current when ingest.actors is imported, so the module is
(re)loaded after setup_broker() and put back afterwards.
"""

from __future__ import annotations

import importlib
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import dramatiq
import dramatiq.broker
import pytest

from clickhouse import tables
from clickhouse.client import Store
from ingest import jobs
from ingest.broker import setup_broker
from ingest.claims import Claims
from ingest.load import Loader
from ingest.settings import IngestSettings

pytestmark = pytest.mark.clickhouse

JOIN_TIMEOUT_MS = 60_000
EXPECTED_SESSIONS = {"ASIADEVALICE00000001": 4, "ASIAPRODALICE0000001": 3, "ASIAWEBSERVER0000001": 2}


@dataclass
class Queue:
    broker: dramatiq.Broker
    actors: ModuleType
    worker: dramatiq.Worker

    def run(self, job_id: str, paths: list[str]) -> None:
        """Send a discovery and wait until it and every load it enqueued are done (broker, then worker)."""
        self.actors.discover_objects.send(job_id, paths)
        self.broker.join(self.actors.QUEUE, timeout=JOIN_TIMEOUT_MS)
        self.worker.join()


def _import_actors() -> ModuleType:
    if "ingest.actors" in sys.modules:
        return importlib.reload(sys.modules["ingest.actors"])
    return importlib.import_module("ingest.actors")


@pytest.fixture(
    params=[
        pytest.param("stub", id="stub-broker"),
        pytest.param("redis", marks=pytest.mark.redis, id="redis-broker"),
    ]
)
def queue(request: pytest.FixtureRequest, loader: Loader) -> Iterator[Queue]:
    """A broker from settings, the actors declared on it and configured with the loader, a running worker."""
    redis_url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    with running_queue(redis_url, loader) as running:
        yield running


@contextmanager
def running_queue(redis_url: str, loader: Loader, claims: Claims | None = None) -> Iterator[Queue]:
    """The broker of these settings with the actors on it, configured with loader and claims, and a
    running two-thread worker; afterwards dramatiq and ingest.actors are left as they were."""
    previous_broker = dramatiq.broker.global_broker
    actors_were_imported = "ingest.actors" in sys.modules
    broker = setup_broker(IngestSettings(redis_url=redis_url))
    worker: dramatiq.Worker | None = None
    try:
        actors = _import_actors()
        actors.configure(loader, claims)
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
        worker.start()
        yield Queue(broker, actors, worker)
    finally:
        if worker is not None:
            worker.stop(timeout=10_000)
        broker.close()
        client = getattr(broker, "client", None)
        if client is not None:
            client.close()
            client.connection_pool.disconnect()
        # Leave dramatiq and ingest.actors as other tests found them.
        if previous_broker is not None:
            dramatiq.set_broker(previous_broker)
            if actors_were_imported:
                importlib.reload(sys.modules["ingest.actors"])
        else:
            dramatiq.broker.global_broker = None
            if not actors_were_imported:
                sys.modules.pop("ingest.actors", None)
                import ingest

                if hasattr(ingest, "actors"):
                    delattr(ingest, "actors")


@pytest.fixture
def logs(data_dir: Path, tmp_path: Path) -> Path:
    """A copy of our small invented trail (3 trail files, a digest, a flow log) in a fresh folder."""
    root = tmp_path / "logs"
    shutil.copytree(data_dir / "cloudtrail", root)
    return root


def session_calls(store: Store) -> dict[str, int]:
    rows = store.rows(
        f"SELECT session_key, uniqExactMerge(calls) FROM {tables.CLOUDTRAIL_SESSIONS} GROUP BY session_key"
    )
    return {str(key): int(calls) for key, calls in rows}


def test_a_job_loads_a_folder_through_the_queue(queue: Queue, store: Store, logs: Path) -> None:
    # Arrange
    job_id = jobs.create_job(store, [str(logs)], requested_by="e2e")
    # Act
    queue.run(job_id, [str(logs)])
    # Assert
    status = jobs.job_status(store, job_id)
    assert status is not None
    assert status.finished
    assert (status.objects_found, status.objects_already_loaded, status.objects_done) == (5, 0, 5)
    assert status.by_status == {"loaded": 4, "skipped": 1}
    # 8 + 3 + 8 trail records and the flow log's 2 records
    assert (status.records_read, status.records_loaded, status.records_bad) == (21, 21, 0)
    assert session_calls(store) == EXPECTED_SESSIONS


def test_the_same_discovery_again_loads_nothing_new(queue: Queue, store: Store, logs: Path) -> None:
    # Arrange: the folder loaded once by a first job
    queue.run(jobs.create_job(store, [str(logs)], requested_by="e2e"), [str(logs)])
    before = store.scalar(f"SELECT count() FROM {tables.INGEST_OBJECTS}")
    second = jobs.create_job(store, [str(logs)], requested_by="e2e")
    # Act
    queue.run(second, [str(logs)])
    # Assert: every object found already loaded, no load ran, sessions unchanged
    status = jobs.job_status(store, second)
    assert status is not None
    assert status.finished
    assert (status.objects_found, status.objects_already_loaded, status.objects_done) == (0, 5, 0)
    assert store.scalar(f"SELECT count() FROM {tables.INGEST_OBJECTS}") == before
    assert session_calls(store) == EXPECTED_SESSIONS


def test_a_missing_path_is_reported_on_the_job(queue: Queue, store: Store, tmp_path: Path) -> None:
    # Arrange
    missing = str(tmp_path / "no-such-folder")
    job_id = jobs.create_job(store, [missing], requested_by="e2e")
    # Act
    queue.run(job_id, [missing])
    # Assert
    status = jobs.job_status(store, job_id)
    assert status is not None
    assert status.finished
    assert status.objects_found == 0
    assert status.message == f"not found: {missing}"


def test_overlapping_paths_in_one_job_still_finish(queue: Queue, store: Store, logs: Path) -> None:
    # Arrange: a folder and one of its subfolders in the same request
    paths = [str(logs), str(logs / "AWSLogs" / "111122223333")]
    job_id = jobs.create_job(store, paths, requested_by="e2e")
    # Act
    queue.run(job_id, paths)
    # Assert
    status = jobs.job_status(store, job_id)
    assert status is not None
    assert status.finished
    assert (status.objects_found, status.objects_done) == (5, 5)
