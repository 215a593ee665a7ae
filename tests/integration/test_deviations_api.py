"""Deviations over GraphQL: on a session, on a principal, and the triage list (real app and engine)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import ApiSettings
from clickhouse.client import Store
from ingest import geo
from ingest.load import Loader
from ingest.sources import walk
from tests.data import deviations as data
from tests.data.api.harness import Api, as_token, open_api

pytestmark = pytest.mark.clickhouse

DEVIATION = (
    "kind value firstSeen severity eventIds baselines { level count complete daysObserved windowStart }"
)


@pytest.fixture
def month(store: Store, loader: Loader, tmp_path: Path) -> Store:
    geo.configure(data.geolocator())
    try:
        data.write(tmp_path)
        loader.load_many(list(walk(tmp_path)))
    finally:
        geo.configure(None)
    return store


@pytest.fixture
def api(month: Store) -> Iterator[Api]:
    with open_api(month) as client:
        yield client


def test_a_session_lists_its_deviations_with_the_contract_values(api: Api) -> None:
    # Act
    found = api.data(
        f"query($k: String!) {{ session(accessKeyId: $k) {{ deviations {{ {DEVIATION} }} }} }}",
        {"k": data.ALICE_NEW},
    )["session"]["deviations"]
    # Assert
    pairs = {(d["kind"], d["value"]) for d in found}
    assert {("NEW_COUNTRY", "RU"), ("NEW_CITY", "Moscow, RU"), ("NEW_ASN", "25513"),
            ("NEW_API_CALL", "iam:CreateAccessKey"), ("IMPOSSIBLE_TRAVEL", data.MOSCOW)} <= pairs  # fmt: skip
    country = next(d for d in found if d["kind"] == "NEW_COUNTRY")
    assert [b["level"] for b in country["baselines"]] == ["PRINCIPAL_IN_ROLE", "ROLE", "ACCOUNT"]
    assert country["eventIds"]
    assert country["firstSeen"].startswith(data.NEW_DAY.date().isoformat())


def test_the_scope_keeps_deviations_first_seen_in_it(api: Api) -> None:
    # Act: a scope that ends before the session started
    found = api.data(
        'query($k: String!) { session(accessKeyId: $k) { deviations(to: "2024-05-01T08:00:00Z") { kind } } }',
        {"k": data.ALICE_NEW},
    )["session"]["deviations"]
    # Assert
    assert found == []


def test_a_principal_gathers_its_sessions_deviations(api: Api) -> None:
    # Act
    found = api.data(
        "query($id: String!) { principal(kind: IAM_USER, identifier: $id) { deviations { kind value } } }",
        {"id": data.ALICE.arn},
    )["principal"]["deviations"]
    # Assert: one entry per kind and value
    pairs = [(d["kind"], d["value"]) for d in found]
    assert ("NEW_COUNTRY", "RU") in pairs
    assert len(pairs) == len(set(pairs))


def test_api_calls_carry_their_geolocation(api: Api) -> None:
    # Act
    calls = api.data(
        "query($k: String!) { session(accessKeyId: $k) { apiCalls { edges { node {"
        " eventName country city asn asOrg } } } } }",
        {"k": data.ALICE_NEW},
    )["session"]["apiCalls"]["edges"]
    # Assert
    assert {(c["node"]["country"], c["node"]["city"], c["node"]["asn"]) for c in calls} == {
        ("RU", "Moscow", 25513)
    }


def test_triage_lists_the_most_severe_sessions_first(api: Api) -> None:
    # Act
    entries = api.data(
        """{ deviatingSessions(from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z", first: 10) {
            session { accessKeyId } deviationCount maxSeverity kinds } }"""
    )["deviatingSessions"]
    # Assert: the stolen instance key and alice's session lead; carol's spike days are listed; the usual
    # session is not
    keys = [e["session"]["accessKeyId"] for e in entries]
    assert set(keys[:2]) == {data.INSTANCE_STOLEN, data.ALICE_NEW}
    assert set(data.CAROL_SPIKE) <= set(keys)
    assert data.ALICE_USUAL not in keys
    severities = [e["maxSeverity"] for e in entries]
    assert severities == sorted(severities, reverse=True)


def test_triage_examines_sessions_new_to_their_role_first(month: Store) -> None:
    # Arrange: room to examine only two of the day's eight sessions
    with open_api(month, ApiSettings(deviation_scan_limit=2)) as api:
        # Act
        entries = api.data(
            """{ deviatingSessions(from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") {
                session { accessKeyId } } }"""
        )["deviatingSessions"]
    # Assert: the two sessions with values their role never showed, not the two newest
    assert {e["session"]["accessKeyId"] for e in entries} == {data.INSTANCE_STOLEN, data.ALICE_NEW}


def test_triage_keeps_to_the_account_and_role_asked(api: Api) -> None:
    # Act
    query = """query($a: String, $r: String) { deviatingSessions(accountId: $a, roleArn: $r,
        from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") { session { accessKeyId } } }"""
    in_role = api.data(query, {"a": data.ACCOUNT, "r": data.BATCH.arn})["deviatingSessions"]
    elsewhere = api.data(query, {"a": "999999999999", "r": None})["deviatingSessions"]
    # Assert
    assert {e["session"]["accessKeyId"] for e in in_role} == set(data.CAROL_SPIKE)
    assert elsewhere == []


def test_a_users_long_term_key_shows_impossible_travel(api: Api) -> None:
    # Act
    found = api.data(
        """query($id: String!) { principal(kind: IAM_USER, identifier: $id) {
            deviations(from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") {
                kind value eventIds } } }""",
        {"id": data.DAVE.arn},
    )["principal"]["deviations"]
    # Assert
    assert [(d["kind"], d["value"], len(d["eventIds"])) for d in found] == [
        ("IMPOSSIBLE_TRAVEL", data.MOSCOW, 2)
    ]


def test_triage_lists_nothing_of_accounts_a_limited_token_may_not_read(month: Store) -> None:
    # Arrange: the month's sessions are all in one account
    tokens = ("test-token", f"mine:read@{data.ACCOUNT}:mine", "other:read@999999999999:other")
    query = """{ deviatingSessions(from: "2024-05-01T00:00:00Z", to: "2024-05-02T00:00:00Z") {
        session { accessKeyId } } }"""
    with open_api(month, tokens=tokens) as api:
        # Act
        mine = as_token(api, "mine").data(query)["deviatingSessions"]
        other = as_token(api, "other").data(query)["deviatingSessions"]
    # Assert
    assert {data.INSTANCE_STOLEN, data.ALICE_NEW} <= {e["session"]["accessKeyId"] for e in mine}
    assert other == []
