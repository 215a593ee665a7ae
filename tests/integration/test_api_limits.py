"""Limits: query depth and tokens, the number of ClickHouse queries per request, the time limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.errors import TIMEOUT_MESSAGE
from api.settings import ApiSettings
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import AUTH, WINDOW, Api, keys_of, load, open_api

pytestmark = pytest.mark.clickhouse

DEPTH = 3
TREE = """
query ($first: Int, $from: DateTime, $to: DateTime) {
  sessions(first: $first, from: $from, to: $to) {
    edges { node {
      accessKeyId chain { accessKeyId } origin { kind } apiCalls(first: 3) { edges { node { eventId } } }
    } }
  }
}
"""
LISTING = """
query ($from: DateTime, $to: DateTime) {
  sessions(first: 500, from: $from, to: $to) { edges { node { accessKeyId apiCallCount } } }
}
"""


def test_query_depth_is_limited(store: Store) -> None:
    # Arrange
    nested = "accessKeyId"
    for _ in range(5):
        nested = f"chain {{ {nested} }}"
    query = f'{{ session(accessKeyId: "{trail.KEY_C}") {{ {nested} }} }}'

    # Act
    with open_api(store, ApiSettings(max_query_depth=5)) as api:
        deep = api.errors(query)
        shallow = api.post(query.replace("chain { accessKeyId }", "accessKeyId"))

    # Assert
    assert deep[0]["message"] == "'anonymous' exceeds maximum operation depth of 5"
    assert "errors" not in shallow


def test_query_tokens_are_limited(store: Store) -> None:
    # Arrange: aliases multiply work with few bytes; the token limit bounds them
    many = " ".join(f'a{n}: session(accessKeyId: "{trail.KEY_C}") {{ accessKeyId }}' for n in range(40))

    # Act
    with open_api(store, ApiSettings(max_query_tokens=200)) as api:
        errors = api.errors(f"{{ {many} }}")
        few = api.post(f'{{ a0: session(accessKeyId: "{trail.KEY_C}") {{ accessKeyId }} }}')

    # Assert
    assert errors[0]["message"] == "Syntax Error: Document contains more than 200 tokens. Parsing aborted."
    assert "errors" not in few


def queries_for(store: Store, api: Api, first: int) -> tuple[int, list[dict[str, object]]]:
    before = store.queries_run
    edges = api.data(TREE, {**WINDOW, "first": first})["sessions"]["edges"]
    return store.queries_run - before, [edge["node"] for edge in edges]


def test_dataloaders_bound_the_queries_by_chain_depth_not_by_sessions(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: 60 chains of 3 role sessions each (180 sessions), every one rooted at alice
    load(loader, [trail.write_trail(tmp_path / "chains.json.gz", trail.chains(60, DEPTH))])

    # Act
    with open_api(store) as api:
        few, small = queries_for(store, api, 5)
        many, large = queries_for(store, api, 50)

    # Assert: the listing, its minting records, one query per chain level, the ancestors' usage
    assert len(small) == 5
    assert len(large) == 50
    assert {len(node["chain"]) for node in large} == set(range(DEPTH))  # type: ignore[arg-type]
    assert all(node["origin"] == {"kind": "IAM_USER"} for node in large)
    assert many <= 4 + DEPTH, many  # usage, minting records, one per chain level, nested calls
    assert many == few


def test_the_time_limit_reaches_clickhouse(store: Store) -> None:
    # Arrange
    hurried = Store(
        store.settings.model_copy(update={"query_timeout_seconds": 0.25}), database=store.database
    )

    # Act
    try:
        limit = hurried.read("SELECT getSetting('max_execution_time')")
    finally:
        hurried.close()

    # Assert
    assert limit == [(0.25,)]


def test_a_query_over_the_time_limit_stops_with_a_clear_error(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: 2000 sessions; the same store through a handle whose reads may take 1 ms
    load(loader, [trail.write_trail(tmp_path / "many.json.gz", trail.chains(2000, 1))])
    hurried = Store(
        store.settings.model_copy(update={"query_timeout_seconds": 0.001}), database=store.database
    )

    # Act: the real listing query, once under each limit
    try:
        with open_api(hurried) as api:
            response = api.http.post("/graphql", json={"query": LISTING, "variables": WINDOW}, headers=AUTH)
    finally:
        hurried.close()
    with open_api(store) as api:
        unhurried = api.data(LISTING, WINDOW)["sessions"]

    # Assert
    error = response.json()["errors"][0]
    assert error["message"] == TIMEOUT_MESSAGE.format(limit=0.001)
    assert error["extensions"]["code"] == "QUERY_TIMEOUT"
    assert error["path"] == ["sessions"]
    assert "DB::Exception" not in response.text
    assert len(keys_of(unhurried)) == 500
