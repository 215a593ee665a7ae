"""Pivots on the invented trail plus a few records of its own: access keys, IP addresses, resources."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clickhouse.client import Store
from tests.data.api import trail
from tests.data.api.harness import WINDOW, Api, Json, as_token, trail_api

pytestmark = pytest.mark.clickhouse

ADMIN_ARN = f"arn:aws:iam::{trail.ACCOUNT_A}:user/admin"
BUCKET = "evidence-bucket"
OLD_KEY = "AKIAALICEOLD00000001"
C_ONLY = "c-only-pivots"
NO_IP = "192.0.2.255"  # no call came from it

KEY = """
query ($id: String!) {
  accessKey(id: $id) {
    id accessKeyId longTerm accountId userName firstUsed lastUsed apiCallCount errorCount
    createdAt deletedAt status
    owner { kind identifier }
    lifecycle { eventName actorArn userName status errorCode }
    mintedSessions { accessKeyId }
    apiCalls(first: 10) { edges { node { eventName } } pageInfo { hasNextPage } }
    apiCallsByApi { name calls }
  }
}
"""
PIVOT = """
fragment set on CallSet {
  credentials { accessKeyId longTerm calls errors session { accessKeyId } principal { identifier } }
  principals { principal { kind identifier } credentialCount calls errors }
  apiCalls(first: 50) {
    edges { node { eventId eventName account: recipientAccountId } } pageInfo { hasNextPage }
  }
  apiCallsByApi { name calls }
}
query ($ip: String!, $res: String!, $from: DateTime, $to: DateTime) {
  ipAddress(address: $ip, from: $from, to: $to) { id address ...set }
  resource(identifier: $res, from: $from, to: $to) { id identifier ...set }
}
"""


def admin() -> Json:
    return {
        "type": "IAMUser",
        "principalId": "AIDAADMIN00000000001",
        "arn": ADMIN_ARN,
        "accountId": trail.ACCOUNT_A,
        "accessKeyId": "AKIAADMIN00000000001",
        "userName": "admin",
    }


def extra_records() -> list[Json]:
    """An admin creates, deactivates and deletes a key of alice's; alice reads a bucket."""
    key_response = {"accessKey": {"accessKeyId": OLD_KEY, "userName": "alice", "status": "Active"}}
    on_key = {"userName": "alice", "accessKeyId": OLD_KEY}
    bucket_read = trail.record(
        "a0000009-0000-4000-8000-000000000004", trail.at(30), trail.alice(), account=trail.ACCOUNT_A,
        name="GetBucketPolicy", request={"bucketName": BUCKET},
    )  # fmt: skip
    bucket_read["resources"] = [{"ARN": f"arn:aws:s3:::{BUCKET}", "type": "AWS::S3::Bucket"}]
    return [
        trail.record(
            "a0000009-0000-4000-8000-000000000001", trail.at(-30), admin(), account=trail.ACCOUNT_A,
            source="iam.amazonaws.com", name="CreateAccessKey", read_only=False,
            request={"userName": "alice"}, response=key_response,
        ),
        trail.record(
            "a0000009-0000-4000-8000-000000000002", trail.at(-20), admin(), account=trail.ACCOUNT_A,
            source="iam.amazonaws.com", name="UpdateAccessKey", read_only=False,
            request={**on_key, "status": "Inactive"},
        ),
        trail.record(
            "a0000009-0000-4000-8000-000000000003", trail.at(-10), admin(), account=trail.ACCOUNT_A,
            source="iam.amazonaws.com", name="DeleteAccessKey", read_only=False, request=on_key,
        ),
        bucket_read,
    ]  # fmt: skip


@pytest.fixture(scope="module")
def api(migrated_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    extra = trail.write_trail(tmp_path_factory.mktemp("pivots") / "extra.json.gz", extra_records())
    tokens = ("test-token", f"c:read@{trail.ACCOUNT_C}:{C_ONLY}")
    with trail_api(migrated_store, tokens, [extra]) as client:
        yield client


def _pivot(api: Api, ip: str, resource: str) -> Json:
    return api.data(PIVOT, {"ip": ip, "res": resource, **WINDOW})


def test_a_used_long_term_key_names_its_user_its_calls_and_its_sessions(api: Api) -> None:
    # Act
    found = api.data(KEY, {"id": trail.ALICE_AKIA})["accessKey"]

    # Assert: GetCallerIdentity, AssumeRole into Deployer and the bucket read
    assert found["owner"] == {"kind": "IAM_USER", "identifier": trail.ALICE_ARN}
    assert (found["longTerm"], found["accountId"], found["userName"]) == (True, trail.ACCOUNT_A, "alice")
    assert found["apiCallCount"] == 3
    assert [e["node"]["eventName"] for e in found["apiCalls"]["edges"]] == [
        "GetCallerIdentity", "AssumeRole", "GetBucketPolicy",
    ]  # fmt: skip
    assert found["mintedSessions"] == [{"accessKeyId": trail.KEY_B}]
    assert (found["createdAt"], found["deletedAt"], found["status"]) == (None, None, "Active")


def test_a_deleted_key_shows_its_lifecycle_and_owner_without_any_use(api: Api) -> None:
    # Act
    found = api.data(KEY, {"id": OLD_KEY})["accessKey"]

    # Assert
    assert found["owner"] == {"kind": "IAM_USER", "identifier": trail.ALICE_ARN}
    assert [(e["eventName"], e["actorArn"], e["status"]) for e in found["lifecycle"]] == [
        ("CreateAccessKey", ADMIN_ARN, None),
        ("UpdateAccessKey", ADMIN_ARN, "Inactive"),
        ("DeleteAccessKey", ADMIN_ARN, None),
    ]
    assert found["createdAt"] == "2024-05-01T08:30:00+00:00"
    assert found["deletedAt"] == "2024-05-01T08:50:00+00:00"
    assert found["status"] == "Deleted"
    assert (found["apiCallCount"], found["firstUsed"], found["apiCalls"]["edges"]) == (0, None, [])


def test_an_unknown_key_is_null_and_a_hidden_one_too(api: Api) -> None:
    # Act
    unknown = api.data(KEY, {"id": "AKIANOSUCHKEY0000000"})
    hidden = as_token(api, C_ONLY).data(KEY, {"id": trail.ALICE_AKIA})
    hidden_old = as_token(api, C_ONLY).data(KEY, {"id": OLD_KEY})

    # Assert
    assert unknown == hidden == hidden_old == {"accessKey": None}


def test_an_ip_address_names_the_sessions_and_principals_that_used_it(api: Api) -> None:
    # Act
    found = _pivot(api, "10.0.1.5", "nothing-named-so")["ipAddress"]

    # Assert
    assert found["id"] == "ip:10.0.1.5"
    assert found["credentials"] == [
        {
            "accessKeyId": trail.KEY_EC2, "longTerm": False, "calls": 2, "errors": 0,
            "session": {"accessKeyId": trail.KEY_EC2}, "principal": {"identifier": trail.INSTANCE},
        }
    ]  # fmt: skip
    assert found["principals"] == [
        {"principal": {"kind": "EC2_INSTANCE", "identifier": trail.INSTANCE}, "credentialCount": 1,
         "calls": 2, "errors": 0}
    ]  # fmt: skip
    assert [e["node"]["eventName"] for e in found["apiCalls"]["edges"]] == ["GetObject", "GetParameter"]


def test_an_address_used_by_many_groups_them_by_principal(api: Api) -> None:
    # Act: the address of every call but the instance's
    found = _pivot(api, "198.51.100.7", "nothing-named-so")["ipAddress"]

    # Assert: alice through her key and her two chained sessions, counted once each record
    by_principal = {p["principal"]["identifier"]: p for p in found["principals"]}
    alice = by_principal[trail.ALICE_ARN]
    expected = 3 + trail.EXPECTED_CALLS[trail.KEY_B] + trail.EXPECTED_CALLS[trail.KEY_C]
    assert (alice["credentialCount"], alice["calls"]) == (3, expected)
    assert sum(c["calls"] for c in found["credentials"]) == sum(
        p["calls"] for p in found["principals"]
    ) + sum(c["calls"] for c in found["credentials"] if c["principal"] is None)


def test_a_resource_is_found_by_arn_in_resources_and_by_name_in_request_parameters(api: Api) -> None:
    # Act
    by_arn = _pivot(api, NO_IP, f"arn:aws:s3:::{BUCKET}")["resource"]
    by_name = _pivot(api, NO_IP, BUCKET)["resource"]

    # Assert
    assert [e["node"]["eventName"] for e in by_arn["apiCalls"]["edges"]] == ["GetBucketPolicy"]
    assert by_name["apiCalls"]["edges"] == by_arn["apiCalls"]["edges"]
    assert by_arn["principals"][0]["principal"] == {"kind": "IAM_USER", "identifier": trail.ALICE_ARN}
    assert by_arn["credentials"][0]["longTerm"] is True


def test_a_role_as_a_resource_names_who_assumed_or_tried_to(api: Api) -> None:
    # Act
    found = _pivot(api, NO_IP, trail.AUDITOR_ARN)["resource"]

    # Assert: both copies of the AssumeRole (the owner's has no credential) and alice behind it
    assert [e["node"]["eventName"] for e in found["apiCalls"]["edges"]] == ["AssumeRole", "AssumeRole"]
    assert [c["accessKeyId"] for c in found["credentials"]] == [trail.KEY_B]
    assert found["principals"][0]["principal"]["identifier"] == trail.ALICE_ARN


def test_a_part_of_a_name_is_not_a_resource(api: Api) -> None:
    # Act
    found = _pivot(api, NO_IP, "evidence")["resource"]

    # Assert
    assert found["apiCalls"]["edges"] == []
    assert found["credentials"] == []


def test_a_limited_token_sees_only_its_accounts_in_pivots(api: Api) -> None:
    # Act
    found = as_token(api, C_ONLY).data(PIVOT, {"ip": "198.51.100.7", "res": trail.AUDITOR_ARN, **WINDOW})

    # Assert: C's calls from that address only; the Auditor role's AssumeRole copy logged in C has no
    # credential, and KEY_B (in B) is not listed
    ip = found["ipAddress"]
    assert {c["accessKeyId"] for c in ip["credentials"]} == {
        trail.KEY_C,
        trail.KEY_GAP_PARENT,
        trail.KEY_GAP_CHILD,
    }
    assert all(p["principal"]["identifier"] != trail.ALICE_ARN for p in ip["principals"])
    assert {e["node"]["account"] for e in ip["apiCalls"]["edges"]} == {trail.ACCOUNT_C}
    assert found["resource"]["credentials"] == []
    assert len(found["resource"]["apiCalls"]["edges"]) == 1


def test_pivot_scopes_default_to_recent_days(api: Api) -> None:
    # Act: no from/to: the trail (May 2024) is older than the default 90 days
    found = api.data('{ ipAddress(address: "10.0.1.5") { apiCalls { edges { node { eventId } } } } }')

    # Assert
    assert found["ipAddress"]["apiCalls"]["edges"] == []


# -- filters and pagination of call connections ---------------------------------------------------

FILTERED = """
query ($key: String!, $filter: ApiCallFilter) {
  session(accessKeyId: $key) {
    apiCalls(first: 50, filter: $filter) { edges { node { eventName errorCode } } }
  }
}
"""
IP_CALLS = """
query ($ip: String!, $first: Int, $after: String, $from: DateTime, $to: DateTime) {
  ipAddress(address: $ip, from: $from, to: $to) {
    apiCalls(first: $first, after: $after) {
      edges { cursor node { eventId } } pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"service": "iam"}, [("ListUsers", None)]),
        ({"service": "cloudtrail.amazonaws.com"}, [("StopLogging", "AccessDenied")]),
        ({"name": "GetObject"}, [("GetObject", None)]),
        ({"errored": True}, [("StopLogging", "AccessDenied"), ("AssumeRole", "AccessDenied")]),
        ({"errored": False}, [("GetObject", None), ("ListUsers", None)]),
        ({"errorCode": "AccessDenied", "service": "sts"}, [("AssumeRole", "AccessDenied")]),
        ({"sourceIp": "203.0.113.66"}, []),
        ({"sourceIp": "198.51.100.7", "name": "ListUsers"}, [("ListUsers", None)]),
        ({}, [("GetObject", None), ("ListUsers", None), ("StopLogging", "AccessDenied"),
              ("AssumeRole", "AccessDenied")]),
    ],
    ids=["service", "service-domain", "name", "errored", "succeeded", "error-code", "other-ip", "ip-and-name",
         "none"],
)  # fmt: skip
def test_call_filters(api: Api, filters: Json, expected: list[tuple[str, str | None]]) -> None:
    # Act
    edges = api.data(FILTERED, {"key": trail.KEY_C, "filter": filters})["session"]["apiCalls"]["edges"]

    # Assert
    assert [(e["node"]["eventName"], e["node"]["errorCode"]) for e in edges] == expected


def test_filters_apply_to_principals_and_pivots_too(api: Api) -> None:
    # Act
    found = api.data(
        "query ($id: String!, $from: DateTime, $to: DateTime) { principal(kind: IAM_USER, identifier: $id) "
        "{ apiCalls(filter: {errored: true}) { edges { node { eventName } } } } "
        'ipAddress(address: "198.51.100.7", from: $from, to: $to) '
        '{ apiCalls(filter: {service: "athena"}) { edges { node { eventName } } } } }',
        {"id": trail.ALICE_ARN, **WINDOW},
    )

    # Assert
    assert [e["node"]["eventName"] for e in found["principal"]["apiCalls"]["edges"]] == [
        "CreateUser", "StopLogging", "AssumeRole",
    ]  # fmt: skip
    assert [e["node"]["eventName"] for e in found["ipAddress"]["apiCalls"]["edges"]] == [
        "StartQueryExecution", "GetQueryResults",
    ]  # fmt: skip


def test_a_long_filter_value_is_refused(api: Api) -> None:
    # Act
    errors = api.errors(FILTERED, {"key": trail.KEY_C, "filter": {"name": "x" * 513}})

    # Assert
    assert errors[0]["message"] == "filter.name must be at most 512 characters"


def test_walking_a_pivots_calls_page_by_page_yields_each_once(api: Api) -> None:
    # Arrange
    whole = api.data(IP_CALLS, {"ip": "198.51.100.7", "first": 500, **WINDOW})["ipAddress"]["apiCalls"]

    # Act
    seen, after, pages = [], None, []
    for _ in range(100):
        page = api.data(IP_CALLS, {"ip": "198.51.100.7", "first": 3, "after": after, **WINDOW})
        calls = page["ipAddress"]["apiCalls"]
        pages.append(calls)
        seen += [e["node"]["eventId"] for e in calls["edges"]]
        if not calls["pageInfo"]["hasNextPage"]:
            break
        after = calls["pageInfo"]["endCursor"]

    # Assert: the same calls in the same order; only the last page says there is no next one
    assert seen == [e["node"]["eventId"] for e in whole["edges"]]
    assert len(seen) == len(set(seen)) > 3
    assert [p["pageInfo"]["hasNextPage"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert whole["pageInfo"]["hasNextPage"] is False


def test_empty_pivot_pages_and_foreign_cursors(api: Api) -> None:
    # Arrange: a cursor of the sessions listing
    listing = api.data(
        "query ($from: DateTime, $to: DateTime) { sessions(from: $from, to: $to, first: 1) "
        "{ pageInfo { endCursor } } }",
        WINDOW,
    )
    foreign = listing["sessions"]["pageInfo"]["endCursor"]

    # Act
    empty = api.data(IP_CALLS, {"ip": NO_IP, "first": 5, **WINDOW})["ipAddress"]["apiCalls"]
    zero = api.data(IP_CALLS, {"ip": "10.0.1.5", "first": 0, **WINDOW})["ipAddress"]["apiCalls"]
    refused = api.errors(IP_CALLS, {"ip": "10.0.1.5", "after": foreign, **WINDOW})

    # Assert
    assert empty == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert zero == {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}
    assert refused[0]["message"] == "this cursor belongs to another list"


def test_pivot_lists_are_capped(api: Api) -> None:
    # Act
    errors = api.errors(
        'query ($from: DateTime, $to: DateTime) { resource(identifier: "x-bucket", from: $from, to: $to) '
        "{ credentials(first: 501) { accessKeyId } } }",
        WINDOW,
    )

    # Assert
    assert errors[0]["message"] == "`first` is at most 500"


def test_a_limited_tokens_first_credentials_are_its_own_most_active(api: Api) -> None:
    # Act: Deployer's session (B) is among the two most active on this address, and hidden
    found = as_token(api, C_ONLY).data(
        'query ($from: DateTime, $to: DateTime) { ipAddress(address: "198.51.100.7", from: $from, to: $to) '
        "{ credentials(first: 2) { accessKeyId calls } } }",
        WINDOW,
    )

    # Assert: still two, both of C
    assert found["ipAddress"]["credentials"] == [
        {"accessKeyId": trail.KEY_C, "calls": 4},
        {"accessKeyId": trail.KEY_GAP_PARENT, "calls": 2},
    ]
