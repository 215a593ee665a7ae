"""DataLoaders bound the store queries of pivots and search: by chain depth, not by result size."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import WINDOW, Api, Json, load, open_api

pytestmark = pytest.mark.clickhouse

DEPTH = 3
IP = """
query ($first: Int!, $from: DateTime, $to: DateTime) {
  ipAddress(address: "198.51.100.7", from: $from, to: $to) {
    principals { principal { identifier } credentialCount calls }
    credentials(first: $first) {
      accessKeyId session { apiCallCount chain { accessKeyId } } principal { kind }
    }
  }
}
"""
SEARCH = """
query ($first: Int!, $from: DateTime, $to: DateTime) {
  search(text: "ASIABULK", first: $first, from: $from, to: $to) {
    value session { apiCallCount origin { identifier } }
  }
}
"""


def queries_for(store: Store, api: Api, query: str, first: int) -> tuple[int, Json]:
    before = store.queries_run
    data = api.data(query, {**WINDOW, "first": first})
    return store.queries_run - before, data


def test_an_addresss_principals_and_credentials_take_a_bounded_number_of_queries(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: 60 chains of 3 sessions, every call from one address, all rooted at alice
    load(loader, [trail.write_trail(tmp_path / "chains.json.gz", trail.chains(60, DEPTH))])

    # Act
    with open_api(store) as api:
        few, small = queries_for(store, api, IP, 5)
        many, large = queries_for(store, api, IP, 50)

    # Assert
    assert len(small["ipAddress"]["credentials"]) == 5
    assert len(large["ipAddress"]["credentials"]) == 50
    assert large["ipAddress"]["principals"] == [
        {
            "principal": {"identifier": trail.ALICE_ARN},
            "credentialCount": 60 * DEPTH + 1,
            "calls": 60 * DEPTH * 2,
        }
    ]
    # Which loads share a batch depends on scheduling (5 to 9 queries seen); never on the size.
    assert max(few, many) <= 3 + 3 * DEPTH, (few, many)


def test_search_hits_take_a_bounded_number_of_queries(store: Store, loader: Loader, tmp_path: Path) -> None:
    # Arrange
    load(loader, [trail.write_trail(tmp_path / "chains.json.gz", trail.chains(60, DEPTH))])

    # Act
    with open_api(store) as api:
        few, small = queries_for(store, api, SEARCH, 5)
        many, large = queries_for(store, api, SEARCH, 50)

    # Assert
    assert len(small["search"]) == 5
    assert len(large["search"]) == 50
    assert {hit["session"]["origin"]["identifier"] for hit in large["search"]} == {trail.ALICE_ARN}
    assert max(few, many) <= 6 + 2 * DEPTH, (few, many)
