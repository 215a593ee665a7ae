"""Copies of a record in parts not yet merged count once in every page of calls.

Pages are read without FINAL (twice the page, repeats dropped, FINAL only when the repeats leave a
page short: api.cloudtrail.reads.calls_where): these tests keep merges stopped so that the copies
stay in separate parts, with three copies of each record so that the FINAL fallback runs too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from clickhouse import tables
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import Api, calls_page, load, open_api, walk_calls

pytestmark = pytest.mark.clickhouse

KEY = "ASIACOPIES0000000001"
CALLS = 7


@pytest.fixture
def api(store: Store, loader: Loader, tmp_path: Path) -> Iterator[Api]:
    identity = trail.role_identity(KEY, trail.ANALYST_ARN, trail.ANALYST_ID, "copies", trail.at(0))
    records = [
        trail.record(f"copy-{n}", trail.at(n) + timedelta(seconds=n), identity, account=trail.ACCOUNT_B)
        for n in range(CALLS)
    ]
    store.command(f"SYSTEM STOP MERGES {tables.CLOUDTRAIL_EVENTS}")
    try:
        # The same records in three objects (as an organisation trail and two reloads would hold them)
        load(loader, [trail.write_trail(tmp_path / f"copy-{n}.json.gz", records) for n in range(3)])
        assert store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS}") == 3 * CALLS
        with open_api(store) as client:
            yield client
    finally:
        store.command(f"SYSTEM START MERGES {tables.CLOUDTRAIL_EVENTS}")


@pytest.mark.parametrize("first", [1, 2, 3, 50])
def test_every_page_size_lists_each_call_once(api: Api, first: int) -> None:
    # Act
    calls = walk_calls(api, KEY, first=first)

    # Assert
    assert [call["eventId"] for call in calls] == [f"copy-{n}" for n in range(CALLS)]


def test_the_first_page_of_nested_sessions_lists_each_call_once(api: Api) -> None:
    # Act: the first page goes through the batched loader (LIMIT n BY credential)
    page = calls_page(api, KEY, first=3)

    # Assert
    assert [edge["node"]["eventId"] for edge in page["edges"]] == ["copy-0", "copy-1", "copy-2"]
    assert page["pageInfo"]["hasNextPage"] is True


def test_the_last_page_knows_it_is_last(api: Api) -> None:
    # Act
    page = calls_page(api, KEY, first=CALLS)

    # Assert
    assert len(page["edges"]) == CALLS
    assert page["pageInfo"]["hasNextPage"] is False
