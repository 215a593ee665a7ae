"""S3 backfill and follow through the real queue: Redis broker, Dramatiq workers, the test S3 server.

Two workers (each with its own claims client, as two processes would have) share one backlog in
Redis; the loader records every object it is asked to load, so a double load would show.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType

import dramatiq
import dramatiq.broker
import pytest

from clickhouse import tables
from clickhouse.client import Store
from ingest import backfill, jobs
from ingest.claims import RedisClaims
from ingest.follow import Follower
from ingest.load import Loader, LoadResult
from ingest.sources import ObjectRef
from ingest.sourcesconfig import SourceConfig, save_source
from tests.e2e.test_queue import running_queue
from tests.s3fixtures import Bucket

pytestmark = pytest.mark.clickhouse

JOIN_TIMEOUT_MS = 120_000
ACCOUNTS = ("111111111111", "222222222222", "333333333333", "444444444444")
REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")
DAY = datetime(2026, 10, 30, 8, 5, tzinfo=UTC)


class CountingLoader(Loader):
    """A real loader that also notes every object it loads."""

    def __init__(self, store: Store) -> None:
        super().__init__(store, retention_days=0)
        self.lock = threading.Lock()
        self.loaded: list[str] = []

    def load_many(self, refs: Sequence[ObjectRef], job_id: str = "") -> list[LoadResult]:
        with self.lock:
            self.loaded += [ref.uri for ref in refs]
        return super().load_many(refs, job_id)


@pytest.fixture
def redis_queue(redis_url: str, store: Store) -> Iterator[tuple[dramatiq.Broker, ModuleType, CountingLoader]]:
    loader = CountingLoader(store)
    claims = RedisClaims(redis_url)
    try:
        with running_queue(redis_url, loader, claims) as queue:
            yield queue.broker, queue.actors, loader
    finally:
        claims.close()


def _wait(broker: dramatiq.Broker, actors: ModuleType) -> None:
    broker.join(actors.QUEUE, timeout=JOIN_TIMEOUT_MS)


@pytest.mark.redis
def test_two_workers_sharing_a_backlog_load_every_object_once(
    redis_queue: tuple[dramatiq.Broker, ModuleType, CountingLoader], store: Store, bucket: Bucket
) -> None:
    # Arrange: 4 accounts x 3 regions x 3 days; the same backfill requested twice at once, so
    # the two worker threads discover every object twice
    broker, actors, loader = redis_queue
    for account in ACCOUNTS:
        for region in REGIONS:
            for day in range(3):
                bucket.put_trail(account, region, DAY + timedelta(days=day), records=2)
    source = SourceConfig("org", bucket.name, endpoint_url=bucket.endpoint, region="us-east-1")
    save_source(store, source)
    first, last = DAY.date(), DAY.date() + timedelta(days=2)
    requested = [backfill.request_backfill(store, source, first, last, 0, "e2e") for _ in range(2)]
    # Act
    for one in requested:
        backfill.start(store, one, actors.plan_backfill.send)
    _wait(broker, actors)
    # Assert: 36 objects, each loaded exactly once, every record in the store
    assert len(loader.loaded) == len(bucket.keys) == 36
    assert len(set(loader.loaded)) == 36
    loaded = store.scalar(f"SELECT sum(records_loaded) FROM {tables.INGEST_OBJECTS} FINAL")
    assert loaded == bucket.records == 72
    statuses = [backfill.refresh(store, one) for one in requested]
    assert all(status is not None and status.finished for status in statuses)


def test_an_ingest_job_of_an_s3_uri_loads_the_objects_under_it(store: Store, bucket: Bucket) -> None:
    # Arrange: two accounts; the job names one account's folder (the in-process queue, as the CLI)
    wanted = bucket.put_trail(ACCOUNTS[0], "us-east-1", DAY)
    bucket.put_trail(ACCOUNTS[1], "us-east-1", DAY)
    uri = f"s3://{bucket.name}/AWSLogs/o-testorg0001/{ACCOUNTS[0]}/"
    loader = CountingLoader(store)
    with running_queue("", loader) as queue:
        job_id = jobs.create_job(store, [uri], requested_by="e2e")
        # Act
        queue.run(job_id, [uri])
    # Assert
    status = jobs.job_status(store, job_id)
    assert status is not None
    assert (status.finished, status.objects_found, status.records_loaded) == (True, 1, 3)
    assert loader.loaded == [f"s3://{bucket.name}/{wanted}"]


@pytest.mark.redis
def test_follow_driven_by_sqs_picks_up_a_new_object(
    redis_queue: tuple[dramatiq.Broker, ModuleType, CountingLoader],
    store: Store,
    bucket: Bucket,
    redis_url: str,
) -> None:
    # Arrange: a source followed through its queue only; a trail file delivered and notified
    broker, actors, loader = redis_queue
    sqs = bucket.sqs()
    queue_url = sqs.create_queue(QueueName=f"{bucket.name}-notices")["QueueUrl"]
    source = SourceConfig(
        "notified",
        bucket.name,
        queue_url=queue_url,
        poll=False,
        endpoint_url=bucket.endpoint,
        region="us-east-1",
    )
    save_source(store, source)
    follower = Follower(
        store, RedisClaims(redis_url), actors.enqueue_refs, actors.plan_backfill.send, receive_wait_seconds=0
    )
    key = bucket.put_trail(ACCOUNTS[0], "us-east-1", datetime.now(UTC), records=5)
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=f'{{"s3Bucket": "{bucket.name}", "s3ObjectKey": ["{key}"]}}'
    )
    # Act
    follower.tick()
    _wait(broker, actors)
    # Assert
    assert loader.loaded == [f"s3://{bucket.name}/{key}"]
    rows = store.rows(f"SELECT job_id, status, records_loaded FROM {tables.INGEST_OBJECTS} FINAL")
    assert rows == [("follow:notified", "loaded", 5)]
