"""The S3 source against a real S3/SQS server on loopback: backfill, polling, notifications, health.

Loads run synchronously here (an enqueue that loads at once); the queue itself is exercised in
tests/e2e/test_s3_queue.py and the serving process in tests/e2e/test_s3_serve.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from clickhouse import tables
from clickhouse.client import Store
from ingest import backfill
from ingest.claims import MemoryClaims
from ingest.follow import Follower
from ingest.load import Loader
from ingest.sources import ObjectRef
from ingest.sourcesconfig import SourceConfig, save_source
from tests.data.api.harness import AUTH, TOKEN
from tests.s3fixtures import Bucket, hours

pytestmark = pytest.mark.clickhouse

ACCOUNTS = ("111111111111", "222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")
DAY = datetime(2026, 11, 20, 10, 5, tzinfo=UTC)


@dataclass
class LoadAtOnce:
    """An enqueue that loads what the ledger does not hold, at once (no queue)."""

    loader: Loader
    loaded: list[str] = field(default_factory=list)

    def __call__(self, job_id: str, refs: list[ObjectRef]) -> tuple[int, int]:
        done = self.loader.done(refs)
        todo = [ref for ref in refs if ref.object_id not in done]
        if todo:
            self.loader.load_many(todo, job_id)
        self.loaded += [ref.uri for ref in todo]
        return len(todo), len(refs) - len(todo)


def configured(store: Store, bucket: Bucket, **options: object) -> SourceConfig:
    source = SourceConfig(name="org", bucket=bucket.name, endpoint_url=bucket.endpoint, region="us-east-1")
    source = SourceConfig(**{**source.as_dict(), **options})
    save_source(store, source)
    return source


def run_backfill(store: Store, load: LoadAtOnce, source: SourceConfig, first: date, last: date) -> str:
    requested = backfill.request_backfill(store, source, first, last, load.loader.retention_days, "test")
    started = backfill.start(store, requested, lambda _id: None)
    parts: list[tuple[str, str, str, str]] = []
    backfill.plan(store, started.backfill_id, lambda *part: parts.append(part))
    for part in parts:
        backfill.discover_part(store, *part, enqueue=load)
    backfill.refresh(store, started)
    return started.backfill_id


def ledger(store: Store) -> dict[str, tuple[str, int]]:
    rows = store.rows(f"SELECT uri, status, records_loaded FROM {tables.INGEST_OBJECTS} FINAL")
    return {str(u): (str(s), int(n)) for u, s, n in rows}


def test_a_backfill_loads_every_account_and_region_of_an_organisation_trail(
    store: Store, loader: Loader, bucket: Bucket
) -> None:
    # Arrange: 3 accounts x 2 regions x 2 days, a digest file, and a day outside the range
    for account in ACCOUNTS:
        for region in REGIONS:
            bucket.put_trail(account, region, DAY)
            bucket.put_trail(account, region, DAY + timedelta(days=1))
    expected = set(bucket.keys)
    bucket.put(f"AWSLogs/o-testorg0001/{ACCOUNTS[0]}/CloudTrail-Digest/us-east-1/2026/11/20/d.json.gz", b"{}")
    bucket.put_trail(ACCOUNTS[0], "us-east-1", DAY + timedelta(days=5))
    source = configured(store, bucket)
    load = LoadAtOnce(loader)
    # Act
    backfill_id = run_backfill(store, load, source, DAY.date(), DAY.date() + timedelta(days=1))
    # Assert: exactly the twelve trail files of the range, each loaded whole
    loaded = ledger(store)
    assert set(loaded) == {f"s3://{bucket.name}/{key}" for key in expected}
    assert {status for status, _ in loaded.values()} == {"loaded"}
    assert sum(n for _, n in loaded.values()) == 12 * 3
    status = backfill.backfill_status(store, backfill_id)
    assert status is not None
    assert status.finished
    assert (status.backfill.parts_planned, status.objects_found, status.objects_loaded) == (6, 12, 12)


def test_a_backfill_run_again_loads_nothing_twice(store: Store, loader: Loader, bucket: Bucket) -> None:
    # Arrange: a backfill done once
    for account in ACCOUNTS[:2]:
        bucket.put_trail(account, "us-east-1", DAY)
    source = configured(store, bucket)
    run_backfill(store, LoadAtOnce(loader), source, DAY.date(), DAY.date())
    again = LoadAtOnce(loader)
    # Act
    backfill_id = run_backfill(store, again, source, DAY.date(), DAY.date())
    # Assert
    assert again.loaded == []
    status = backfill.backfill_status(store, backfill_id)
    assert status is not None
    assert (status.objects_found, status.objects_already_loaded, status.finished) == (0, 2, True)


def test_a_backfill_past_the_retention_warns_and_records_the_expired_parts(
    store: Store, bucket: Bucket
) -> None:
    # Arrange: files from 60 and 5 days ago; a 30-day retention
    today = datetime.now(UTC).replace(hour=10, minute=5, second=0, microsecond=0)
    old = bucket.put_trail(ACCOUNTS[0], "us-east-1", today - timedelta(days=60))
    recent = bucket.put_trail(ACCOUNTS[0], "us-east-1", today - timedelta(days=5))
    source = configured(store, bucket)
    load = LoadAtOnce(Loader(store, retention_days=30))
    # Act
    requested = backfill.request_backfill(
        store, source, (today - timedelta(days=70)).date(), today.date(), 30, "test"
    )
    backfill_id = run_backfill(store, load, source, (today - timedelta(days=70)).date(), today.date())
    # Assert: warned at request time, old days not listed but recorded, recent ones loaded
    assert "30-day retention" in requested.warning
    assert "raise the retention" in requested.warning
    assert load.loaded == [f"s3://{bucket.name}/{recent}"]
    status = backfill.backfill_status(store, backfill_id)
    assert status is not None
    assert status.parts_expired >= 2
    old_day = f"{(today - timedelta(days=60)):%Y/%m/%d}"
    assert any(part.split("/", 5)[-1] <= old_day for part in status.expired_parts)
    assert f"s3://{bucket.name}/{old}" not in ledger(store)


def test_a_backfill_of_a_bucket_that_cannot_be_listed_fails_and_says_why(
    store: Store, loader: Loader, s3_endpoint: str
) -> None:
    # Arrange: a source naming a bucket that does not exist
    source = SourceConfig(
        name="gone", bucket="no-such-bucket-here", endpoint_url=s3_endpoint, region="us-east-1"
    )
    save_source(store, source)
    # Act
    backfill_id = run_backfill(store, LoadAtOnce(loader), source, DAY.date(), DAY.date())
    # Assert
    status = backfill.backfill_status(store, backfill_id)
    assert status is not None
    assert status.backfill.state == backfill.FAILED
    assert "cannot list the source" in status.backfill.warning
    assert "not found" in status.backfill.warning


def test_polling_picks_up_a_new_object_of_today(store: Store, loader: Loader, bucket: Bucket) -> None:
    # Arrange: yesterday's file known; the loop started (new streams are listed hourly, new
    # objects in known streams at every poll)
    now = datetime.now(UTC)
    bucket.put_trail(ACCOUNTS[0], "us-east-1", now - timedelta(days=1))
    source = configured(store, bucket)
    load = LoadAtOnce(loader)
    follower = Follower(store, MemoryClaims(), load, lambda _id: None)
    follower.poll(source, now)
    first = set(load.loaded)
    new = bucket.put_trail(ACCOUNTS[0], "us-east-1", now)
    # Act
    follower.poll(source, now)
    # Assert: the first poll took yesterday's file, the second only the new one
    assert len(first) == 1
    assert load.loaded[1:] == [f"s3://{bucket.name}/{new}"]


def _s3_event(bucket: str, key: str, size: int) -> str:
    record = {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key.replace(" ", "+"), "size": size}},
    }
    return json.dumps({"Records": [record]})


def test_notifications_in_every_shape_load_their_objects(
    store: Store, loader: Loader, bucket: Bucket
) -> None:
    # Arrange: an S3 event, the same wrapped in SNS, a CloudTrail notice, a test event, garbage
    sqs = bucket.sqs()
    queue_url = sqs.create_queue(QueueName=f"{bucket.name}-q")["QueueUrl"]
    keys = [bucket.put_trail(account, "us-east-1", DAY) for account in ACCOUNTS]
    sizes = [bucket.client.head_object(Bucket=bucket.name, Key=k)["ContentLength"] for k in keys]
    bodies = [
        _s3_event(bucket.name, keys[0], sizes[0]),
        json.dumps({"Type": "Notification", "Message": _s3_event(bucket.name, keys[1], sizes[1])}),
        json.dumps({"s3Bucket": bucket.name, "s3ObjectKey": [keys[2]]}),
        json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": bucket.name}),
        "not json",
        json.dumps({"s3Bucket": bucket.name, "s3ObjectKey": ["AWSLogs/deleted-since.json.gz"]}),
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    source = configured(store, bucket, queue_url=queue_url, poll=False)
    load = LoadAtOnce(loader)
    follower = Follower(store, MemoryClaims(), load, lambda _id: None, receive_wait_seconds=0)
    # Act
    follower.drain(source)
    # Assert: the three objects loaded, the queue empty, the unreadable message and the missing
    # object reported
    assert sorted(load.loaded) == sorted(f"s3://{bucket.name}/{k}" for k in keys)
    assert {status for status, _ in ledger(store).values()} == {"loaded"}
    left = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert left["Attributes"]["ApproximateNumberOfMessages"] == "0"
    state = store.rows(f"SELECT errors, last_error FROM {tables.INGEST_SOURCE_STATE} FINAL")
    assert state[0][0] == 2


def _graphql(store: Store, query: str) -> dict[str, object]:
    with TestClient(create_app(ApiSettings(), store, (TOKEN,))) as http:
        response = http.post("/graphql", json={"query": query}, headers=AUTH)
    answer: dict[str, object] = response.json()
    assert "errors" not in answer, answer
    return answer


def test_health_shows_a_gap_for_an_account_whose_deliveries_stop(
    store: Store, loader: Loader, bucket: Bucket
) -> None:
    # Arrange: two accounts deliver hourly; the second stops after 12 of 24 hours
    start = datetime.now(UTC).replace(minute=5, second=0, microsecond=0) - timedelta(hours=25)
    for when in hours(start, 24):
        bucket.put_trail(ACCOUNTS[0], "us-east-1", when, records=1)
    for when in hours(start, 12):
        bucket.put_trail(ACCOUNTS[1], "us-east-1", when, records=1)
    source = configured(store, bucket)
    run_backfill(store, LoadAtOnce(loader), source, start.date(), datetime.now(UTC).date())
    # Act
    answer = _graphql(
        store,
        "{ ingestHealth { streams { source accountId region logType objectsLoaded recordsLoaded gapHours"
        " lagSeconds gaps { start end hours } } } }",
    )
    # Assert: the stopped account has one gap from its last delivery on; the other none
    health = answer["data"]["ingestHealth"]["streams"]  # type: ignore[index]
    by_account = {s["accountId"]: s for s in health}
    assert by_account[ACCOUNTS[0]]["gapHours"] == 0
    assert by_account[ACCOUNTS[0]]["objectsLoaded"] == 24
    stopped = by_account[ACCOUNTS[1]]
    assert stopped["source"] == "org"
    assert stopped["objectsLoaded"] == 12
    assert len(stopped["gaps"]) == 1
    gap = stopped["gaps"][0]
    assert gap["start"].startswith((start + timedelta(hours=12)).strftime("%Y-%m-%dT%H:00:00"))
    assert gap["hours"] >= 12
    assert stopped["lagSeconds"] > by_account[ACCOUNTS[0]]["lagSeconds"]


def test_coverage_tells_accounts_without_logs_apart(store: Store, loader: Loader, bucket: Bucket) -> None:
    # Arrange: data events loaded for one account
    bucket.put_trail(ACCOUNTS[0], "us-east-1", DAY)
    run_backfill(store, LoadAtOnce(loader), configured(store, bucket), DAY.date(), DAY.date())
    # Act
    answer = _graphql(
        store,
        f'{{ coverage(from: "2026-11-19T00:00:00Z", to: "2026-11-22T00:00:00Z",'
        f' accountIds: ["{ACCOUNTS[0]}", "{ACCOUNTS[1]}"]) {{ accountsWithoutLogs logTypesLoaded'
        " entries { accountId region logType hoursWithRecords } } }",
    )
    # Assert
    coverage = answer["data"]["coverage"]  # type: ignore[index]
    assert coverage["accountsWithoutLogs"] == [ACCOUNTS[1]]
    assert coverage["logTypesLoaded"] == ["DATA_EVENTS"]
    assert coverage["entries"] == [
        {"accountId": ACCOUNTS[0], "region": "us-east-1", "logType": "DATA_EVENTS", "hoursWithRecords": 1}
    ]


def test_metrics_are_served_in_the_prometheus_text_format_to_token_holders(
    store: Store, loader: Loader, bucket: Bucket
) -> None:
    # Arrange
    bucket.put_trail(ACCOUNTS[0], "us-east-1", DAY, records=4)
    run_backfill(store, LoadAtOnce(loader), configured(store, bucket), DAY.date(), DAY.date())
    app = create_app(ApiSettings(), store, (TOKEN, f"prometheus:read:{TOKEN}-read"))
    # Act
    with TestClient(app) as http:
        anonymous = http.get("/metrics")
        scraped = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}-read"})
    # Assert
    assert anonymous.status_code == 401
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain; version=0.0.4")
    labels = f'source="org",account="{ACCOUNTS[0]}",region="us-east-1",log_type="cloudtrail"'
    assert f"roletrail_ingest_records_loaded{{{labels}}} 4" in scraped.text.splitlines()
    assert "# TYPE roletrail_ingest_lag_seconds gauge" in scraped.text


def test_a_token_limited_to_accounts_sees_only_their_coverage_and_no_fleet_wide_health(
    store: Store, loader: Loader, bucket: Bucket
) -> None:
    # Arrange: logs of two accounts; a token limited to the second
    for account in ACCOUNTS[:2]:
        bucket.put_trail(account, "us-east-1", DAY)
    run_backfill(store, LoadAtOnce(loader), configured(store, bucket), DAY.date(), DAY.date())
    limited = f"second:read@{ACCOUNTS[1]}:{TOKEN}-second"
    app = create_app(ApiSettings(), store, (TOKEN, limited))
    coverage = (
        '{ coverage(from: "2026-11-19T00:00:00Z", to: "2026-11-22T00:00:00Z")'
        " { accountIds entries { accountId } } }"
    )
    auth = {"Authorization": f"Bearer {TOKEN}-second"}
    # Act
    with TestClient(app) as http:
        seen = http.post("/graphql", json={"query": coverage}, headers=auth).json()
        health = http.post(
            "/graphql", json={"query": "{ ingestHealth { streams { accountId } } }"}, headers=auth
        )
        metrics = http.get("/metrics", headers=auth)
    # Assert: the second account only; health and metrics, which label every account, refused
    assert seen["data"]["coverage"]["accountIds"] == [ACCOUNTS[1]]
    assert {e["accountId"] for e in seen["data"]["coverage"]["entries"]} == {ACCOUNTS[1]}
    assert health.json()["data"] is None
    assert "limited" in health.json()["errors"][0]["message"]
    assert metrics.status_code == 403
