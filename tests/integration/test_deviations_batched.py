"""Deviations of many sessions at once: the same answers as one session at a time, in a number of
queries that does not grow with the sessions (a principal's or a triage list's deviations)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.cloudtrail.attribution import principal_credentials
from api.deviations.compute import Cache, Limits, session_deviations, sessions_deviations
from api.settings import ApiSettings
from clickhouse.client import Store
from ingest import geo
from ingest.load import LOADED, Loader
from ingest.sources import walk
from tests.data import deviations as data
from tests.data.api.harness import open_api
from tests.data.attribution import scenarios
from tests.integration.test_instances import write_scenario

pytestmark = pytest.mark.clickhouse

LIMITS = Limits()


@pytest.fixture
def month(store: Store, loader: Loader, tmp_path: Path) -> Iterator[Store]:
    geo.configure(data.geolocator())
    try:
        data.write(tmp_path)
        assert {r.status for r in loader.load_many(list(walk(tmp_path)))} == {LOADED}
        yield store
    finally:
        geo.configure(None)


def _every_session(store: Store) -> list[str]:
    return [str(row[0]) for row in store.rows("SELECT DISTINCT session_key FROM cloudtrail_sessions")]


def _assert_batched_is_one_by_one(store: Store) -> None:
    keys = sorted(_every_session(store))
    # Act
    batched = sessions_deviations(store, keys, LIMITS, Cache())
    one_by_one = {key: session_deviations(store, key, LIMITS, Cache()) for key in keys}
    # Assert: same deviations, in the same order, for every session
    assert set(batched) == set(keys)
    assert batched == one_by_one


def test_the_month_batched_equals_one_session_at_a_time(month: Store) -> None:
    _assert_batched_is_one_by_one(month)
    # the month has its known deviations, so the comparison is not between empty lists
    found = sessions_deviations(month, [data.ALICE_NEW, data.INSTANCE_STOLEN], LIMITS)
    assert ("NEW_COUNTRY", "RU") in {(str(d.kind), d.value) for d in found[data.ALICE_NEW]}
    assert "CREDENTIALS_OFF_INSTANCE" in {str(d.kind) for d in found[data.INSTANCE_STOLEN]}


def test_the_instance_scenario_batched_equals_one_session_at_a_time(store: Store, tmp_path: Path) -> None:
    write_scenario(tmp_path)
    assert {r.status for r in Loader(store, retention_days=0).load_many(list(walk(tmp_path)))} == {LOADED}
    keys = principal_credentials(store, "EC2_INSTANCE", scenarios.INSTANCE).keys
    assert keys
    _assert_batched_is_one_by_one(store)


def test_unknown_and_repeated_keys(month: Store) -> None:
    # Act
    found = sessions_deviations(month, ["ASIANOSUCHKEY0000000", data.ALICE_NEW, data.ALICE_NEW], LIMITS)
    # Assert
    assert found["ASIANOSUCHKEY0000000"] == []
    assert found[data.ALICE_NEW] == session_deviations(month, data.ALICE_NEW, LIMITS)


def _queries(store: Store, keys: list[str]) -> int:
    before = store.queries_run
    sessions_deviations(store, keys, LIMITS, Cache())
    return store.queries_run - before


def test_queries_do_not_grow_with_the_sessions(month: Store) -> None:
    keys = sorted(principal_credentials(month, "EC2_INSTANCE", data.WEB_INSTANCE).keys)
    assert len(keys) >= 20
    # Act
    counts = [_queries(month, keys[:n]) for n in (1, 5, len(keys))]
    # Assert: one session costs what all the instance's sessions cost (lineage may take a step more or
    # less for another set of sessions); one session at a time took 9 to 11 queries each
    assert max(counts) - min(counts) <= 2, counts
    assert max(counts) <= 15, counts


PRINCIPAL = """query($id: String!) {
  principal(kind: EC2_INSTANCE, identifier: $id) { deviations { kind value } } }"""


def test_a_principals_deviations_take_the_same_queries_for_few_or_many_sessions(month: Store) -> None:
    counts = [_api_queries(month, limit) for limit in (1, 5, 100)]
    # Assert: the scan limit sets how many sessions are examined, not how many queries run (lineage
    # may take a step more or less for another set of sessions; one session used to take ~10 queries)
    assert max(counts) - min(counts) <= 2, counts


def _api_queries(store: Store, limit: int) -> int:
    with open_api(store, ApiSettings(deviation_scan_limit=limit)) as api:
        before = store.queries_run
        found = api.data(PRINCIPAL, {"id": data.WEB_INSTANCE})["principal"]["deviations"]
        assert found
        return store.queries_run - before
