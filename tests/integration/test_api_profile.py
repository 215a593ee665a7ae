"""Profile panels (ActivityProfile) on sessions, principals and roles, on the invented trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clickhouse.client import Store
from tests.data.api import trail
from tests.data.api.harness import Api, Json, trail_api

pytestmark = pytest.mark.clickhouse

PANELS = """
fragment panels on ActivityProfile {
  apiCallsByApi { service name calls errors firstSeen lastSeen }
  apiCallsBySourceIp { value calls errors }
  apiCallsByUserAgent { value calls errors }
  apiCallsByRegion { value calls errors }
  activity { time calls errors }
}
"""
SESSION = (
    PANELS + "query ($key: String!) { session(accessKeyId: $key) { apiCallCount errorCount ...panels } }"
)
ACTIVITY = """
query ($key: String!, $from: DateTime, $to: DateTime, $bucket: TimeBucket!) {
  session(accessKeyId: $key) { activity(from: $from, to: $to, bucket: $bucket) { time calls errors } }
}
"""


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    with trail_api(migrated_store) as client:
        yield client


def _session(api: Api, key: str) -> Json:
    found: Json = api.data(SESSION, {"key": key})["session"]
    return found


def test_calls_by_api_count_each_record_once_with_its_errors(api: Api) -> None:
    # Act: KEY_C's calls are in two trails (account and organisation)
    found = _session(api, trail.KEY_C)

    # Assert
    by_api = {(row["service"], row["name"]): (row["calls"], row["errors"]) for row in found["apiCallsByApi"]}
    assert by_api == {
        ("s3", "GetObject"): (1, 0),
        ("iam", "ListUsers"): (1, 0),
        ("cloudtrail", "StopLogging"): (1, 1),
        ("sts", "AssumeRole"): (1, 1),
    }
    assert sum(c for c, _ in by_api.values()) == found["apiCallCount"]
    assert sum(e for _, e in by_api.values()) == found["errorCount"]


def test_calls_by_source_ip_user_agent_and_region(api: Api) -> None:
    # Act
    found = _session(api, trail.KEY_EC2)

    # Assert: most calls first
    assert found["apiCallsBySourceIp"] == [
        {"value": "10.0.1.5", "calls": 2, "errors": 0},
        {"value": "203.0.113.66", "calls": 1, "errors": 1},
    ]
    assert found["apiCallsByUserAgent"] == [{"value": "aws-cli/2.15.0", "calls": 3, "errors": 1}]
    assert found["apiCallsByRegion"] == [{"value": trail.REGION, "calls": 3, "errors": 1}]


def test_activity_defaults_to_the_buckets_between_first_and_last_call(api: Api) -> None:
    # Act: the instance called at 12:01, 12:02 and 12:03
    found = _session(api, trail.KEY_EC2)

    # Assert
    assert found["activity"] == [{"time": "2024-05-01T12:00:00+00:00", "calls": 3, "errors": 1}]


def test_activity_fills_empty_buckets_of_the_scope(api: Api) -> None:
    # Act
    points = api.data(
        ACTIVITY,
        {
            "key": trail.KEY_EC2,
            "from": "2024-05-01T10:30:00Z",
            "to": "2024-05-01T14:00:00Z",
            "bucket": "HOUR",
        },
    )["session"]["activity"]

    # Assert: 10:00 (the hour `from` falls in) to 13:00 (the last hour before `to`)
    assert points == [
        {"time": "2024-05-01T10:00:00+00:00", "calls": 0, "errors": 0},
        {"time": "2024-05-01T11:00:00+00:00", "calls": 0, "errors": 0},
        {"time": "2024-05-01T12:00:00+00:00", "calls": 3, "errors": 1},
        {"time": "2024-05-01T13:00:00+00:00", "calls": 0, "errors": 0},
    ]


def test_activity_by_day(api: Api) -> None:
    # Act
    points = api.data(
        ACTIVITY,
        {"key": trail.KEY_B, "from": "2024-04-30T00:00:00Z", "to": "2024-05-02T00:00:00Z", "bucket": "DAY"},
    )["session"]["activity"]

    # Assert
    assert points == [
        {"time": "2024-04-30T00:00:00+00:00", "calls": 0, "errors": 0},
        {"time": "2024-05-01T00:00:00+00:00", "calls": 4, "errors": 1},
    ]


def test_too_many_buckets_are_refused(api: Api) -> None:
    # Act
    errors = api.errors(
        ACTIVITY,
        {"key": trail.KEY_B, "from": "2020-01-01T00:00:00Z", "to": "2024-05-02T00:00:00Z", "bucket": "HOUR"},
    )

    # Assert
    assert errors[0]["message"] == "more than 2000 buckets: narrow `from`/`to` or use DAY buckets"


def test_open_ended_scopes_end_at_the_last_call_and_empty_scopes_are_empty(api: Api) -> None:
    # Act
    points = api.data(
        ACTIVITY,
        {"key": trail.KEY_B, "from": "2023-01-01T00:00:00Z", "bucket": "DAY", "to": None},
    )
    empty = api.data(
        'query ($key: String!) { session(accessKeyId: $key) { apiCallsByApi(to: "2024-01-01T00:00:00Z") '
        '{ name } activity(to: "2024-01-01T00:00:00Z") { time } } }',
        {"key": trail.KEY_B},
    )

    # Assert
    # From the day of `from` to the last call, zeros included (487 days).
    days = points["session"]["activity"]
    assert (days[0]["time"], days[-1]["time"], len(days)) == (
        "2023-01-01T00:00:00+00:00",
        "2024-05-01T00:00:00+00:00",
        487,
    )
    assert [day["calls"] for day in days if day["calls"]] == [trail.EXPECTED_CALLS[trail.KEY_B]]
    assert empty["session"] == {"apiCallsByApi": [], "activity": []}


def test_first_bounds_the_lists(api: Api) -> None:
    # Act
    found = api.data(
        '{ session(accessKeyId: "' + trail.KEY_C + '") { apiCallsByApi(first: 2) { name } '
        "apiCallsBySourceIp(first: 0) { value } } }"
    )["session"]
    too_many = api.errors(
        '{ session(accessKeyId: "' + trail.KEY_C + '") { apiCallsByRegion(first: 100000) { value } } }'
    )

    # Assert
    assert len(found["apiCallsByApi"]) == 2
    assert found["apiCallsBySourceIp"] == []
    assert too_many[0]["message"] == "`first` is at most 500"


def test_a_principals_panels_cover_every_credential_of_its_chains(api: Api) -> None:
    # Act
    found = api.data(
        PANELS
        + 'query { principal(kind: IAM_USER, identifier: "'
        + trail.ALICE_ARN
        + '") { apiCallCount ...panels } }'
    )["principal"]

    # Assert: Deployer's and Auditor's calls together
    assert found["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_B] + trail.EXPECTED_CALLS[trail.KEY_C]
    assert sum(row["calls"] for row in found["apiCallsByApi"]) == found["apiCallCount"]
    assert found["apiCallsByRegion"] == [{"value": trail.REGION, "calls": found["apiCallCount"], "errors": 3}]
    assert sum(point["calls"] for point in found["activity"]) == found["apiCallCount"]


def test_a_roles_panels_cover_its_sessions(api: Api) -> None:
    # Act
    found = api.data(PANELS + 'query { role(arn: "' + trail.WEB_ARN + '") { apiCallCount ...panels } }')[
        "role"
    ]

    # Assert
    assert found["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_EC2]
    assert {row["value"] for row in found["apiCallsBySourceIp"]} == {"10.0.1.5", "203.0.113.66"}
