"""Shared fixtures: one embedded ClickHouse engine per test process, isolated per test by TRUNCATE.

chDB allows one data path per process, so the whole session shares `store_settings` (a temporary
data directory) and `migrated_store` (the production migrations applied once, through the real
runner, to the `roletrail_test` database, with retention 0 so that old sample records are kept).
Each test that asks for `store` gets that engine with every data table truncated first.

Touching the engine requires the `clickhouse` marker (STYLE G28): a test that requests an engine
fixture without it fails in setup with a message saying so. Redis tests use `redis_url`, which
skips when Redis is absent locally and fails when CI is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from clickhouse import migrate
from clickhouse.client import Store
from clickhouse.retention import apply_retention
from clickhouse.settings import StoreSettings
from ingest.load import Loader
from tests.support import truncate_all

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = Path(__file__).resolve().parent / "data"
TEST_DATABASE = "roletrail_test"
# Parallel checkouts on one machine can each take their own database.
REDIS_URL = os.environ.get("ROLETRAIL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# The S3/SQS test server and bucket fixtures (moto in server mode).
pytest_plugins = ("tests.s3fixtures",)

# Fixtures that reach the engine; requesting any of them needs @pytest.mark.clickhouse.
ENGINE_FIXTURES = frozenset({"store_settings", "migrated_store", "store", "loader", "truncate_store"})


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail, before any fixture runs, a test that touches the engine without the clickhouse marker."""
    used = ENGINE_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    if used and item.get_closest_marker("clickhouse") is None:
        pytest.fail(
            f"{item.nodeid} uses {', '.join(sorted(used))} but is not marked clickhouse: "
            "add @pytest.mark.clickhouse (or pytestmark) to tests that touch the engine",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def store_settings(tmp_path_factory: pytest.TempPathFactory) -> StoreSettings:
    """The one data path of this process (chDB cannot open a second one)."""
    return StoreSettings(data_dir=tmp_path_factory.mktemp("chdb"), retention_days=0)


@pytest.fixture(scope="session")
def migrated_store(store_settings: StoreSettings) -> Iterator[Store]:
    """The production schema, applied once per session by the real runner, retention 0 (keep all)."""
    store = Store(store_settings, database=TEST_DATABASE)
    try:
        migrate.apply(store)
        apply_retention(store, 0)
        yield store
    finally:
        store.close()


@pytest.fixture
def truncate_store(migrated_store: Store) -> Callable[[], None]:
    """Empty every data table again in the middle of a test (a fresh store, same schema)."""
    return lambda: truncate_all(migrated_store)


@pytest.fixture
def store(request: pytest.FixtureRequest, migrated_store: Store) -> Store:
    """The migrated store with every data table empty and retention 0."""
    if request.node.get_closest_marker("clickhouse") is None:
        pytest.fail("the store fixture needs @pytest.mark.clickhouse", pytrace=False)
    truncate_all(migrated_store)
    return migrated_store


@pytest.fixture
def loader(store: Store) -> Loader:
    return Loader(store, retention_days=0)


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    """Third-party sample logs beside the repository (../shared/samples); absent in a fresh clone."""
    path = REPO_ROOT.parent / "shared" / "samples"
    if not path.is_dir():
        pytest.skip(f"sample logs not found at {path}")
    return path


@pytest.fixture
def data_dir() -> Path:
    """This repository's own small fixture files (tests/data)."""
    return DATA_DIR


@pytest.fixture
def redis_url() -> Iterator[str]:
    """Redis db 15 on 127.0.0.1 (or ROLETRAIL_TEST_REDIS_URL), flushed before the test; skipped
    locally without Redis, failed on CI."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        try:
            client.ping()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            message = f"Redis is not reachable at {REDIS_URL}: {exc}"
            if os.environ.get("CI"):
                pytest.fail(message, pytrace=False)
            pytest.skip(message)
        client.flushdb()
        yield REDIS_URL
    finally:
        client.close()
