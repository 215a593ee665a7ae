"""A real S3- and SQS-compatible server on loopback (moto in server mode) and trail files for it.

boto3 talks HTTP to the server exactly as to AWS: nothing is patched. Credentials come from the
environment (the standard AWS configuration), the endpoint from the source's connection.
"""

from __future__ import annotations

import gzip
import itertools
import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from moto.server import ThreadedMotoServer

from ingest import s3
from tests.integration.test_load import call

REGION = "us-east-1"
ORG = "o-testorg0001"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint URL of a moto server (S3 and SQS) on 127.0.0.1, for the whole session."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    saved = {name: os.environ.get(name) for name in AWS_ENV}
    os.environ.update(AWS_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class Bucket:
    """A fresh bucket on the test server, reachable through ingest.s3 (its connection registered)."""

    name: str
    endpoint: str
    keys: list[str] = field(default_factory=list)
    records: int = 0

    @property
    def connection(self) -> s3.Connection:
        return s3.Connection(region=REGION, endpoint_url=self.endpoint)

    @property
    def client(self) -> Any:
        return s3.client(self.connection)

    def sqs(self) -> Any:
        return s3.client(self.connection, "sqs")

    def put(self, key: str, body: bytes) -> str:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)
        self.keys.append(key)
        return key

    def put_trail(
        self, account: str, region: str, when: datetime, records: int = 3, prefix: str = "", org: str = ORG
    ) -> str:
        """One CloudTrail file of `records` calls, at its delivery key (org trail layout)."""
        numbers = [next(_numbers) for _ in range(records)]
        iso = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {
            "Records": [
                call(n, key=f"ASIA{account}{n % 10_000:04d}", when=iso, account=account, awsRegion=region)
                for n in numbers
            ]
        }
        org_part = f"{org}/" if org else ""
        key = (
            f"{prefix}AWSLogs/{org_part}{account}/CloudTrail/{region}/{when:%Y/%m/%d}/"
            f"{account}_CloudTrail_{region}_{when:%Y%m%dT%H%M}Z_{uuid.uuid4().hex[:16]}.json.gz"
        )
        self.records += records
        return self.put(key, gzip.compress(orjson.dumps(body)))


@pytest.fixture
def bucket(s3_endpoint: str) -> Bucket:
    made = Bucket(f"trail-{uuid.uuid4().hex[:12]}", s3_endpoint)
    made.client.create_bucket(Bucket=made.name)
    s3.use_connection(made.name, made.connection)
    return made


def hours(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(count)]
