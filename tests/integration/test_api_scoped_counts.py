"""Rolled-up figures for tokens limited to accounts (api.scoping): a session's calls logged in
another account (here Deployer's S3 data events that the bucket owner, account C, logged) are
counted for a token only when it may list them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from clickhouse.client import Store
from tests.data.api import trail
from tests.data.api.harness import WINDOW, Api, as_token, sessions_page, trail_api, walk_calls

pytestmark = pytest.mark.clickhouse

B_ONLY = "b-only-secret"
AB = "a-and-b-secret"
TOKENS = (
    "test-token",
    f"b-reader:read@{trail.ACCOUNT_B}:{B_ONLY}",
    f"ab-reader:read@{trail.ACCOUNT_A}+{trail.ACCOUNT_B}:{AB}",
)
C_IP = "203.0.113.9"
C_REGION = "eu-west-1"
C_AGENT = "aws-sdk-go/1.50.0"
C_CALLS, C_ERRORS = 3, 1
LATE = trail.at(30)
# A session of account B none of whose calls B logged.
READER_ARN = f"arn:aws:iam::{trail.ACCOUNT_B}:role/Reader"
KEY_READER = "ASIAREADERONLYINC001"

SESSION = """
query ($key: String!) {
  session(accessKeyId: $key) {
    apiCallCount errorCount distinctApiCount sourceIps userAgents regions firstSeen lastSeen
    apiCallsByApi { calls errors }
    apiCallsBySourceIp { value }
    activity(bucket: DAY) { calls }
  }
}
"""
PRINCIPAL = """
query ($kind: PrincipalKind!, $id: String!, $from: DateTime, $to: DateTime) {
  principal(kind: $kind, identifier: $id) {
    apiCallCount scoped: apiCallCount(from: $from, to: $to)
  }
}
"""
ROLE = """
query ($arn: String!) {
  role(arn: $arn) {
    apiCallCount lastUsed
    originUsage { apiCallCount }
    sessions { edges { node { accessKeyId apiCallCount errorCount lastSeen } } }
  }
}
"""
ACCESS_KEY = "query ($id: String!) { accessKey(id: $id) { apiCallCount errorCount lastUsed } }"


def data_events_logged_in_c() -> list[trail.Record]:
    """Deployer (a session of account B) reads objects of a bucket that account C owns: C logs them."""
    found = []
    for n in range(C_CALLS):
        call = trail.record(
            f"c0000009-0000-4000-8000-00000000000{n}",
            LATE + timedelta(minutes=n),
            trail.deployer(),
            account=trail.ACCOUNT_C,
            name="GetObject",
            error="AccessDenied" if n < C_ERRORS else "",
            ip=C_IP,
            agent=C_AGENT,
        )
        call.update(awsRegion=C_REGION, eventCategory="Data", managementEvent=False)
        found.append(call)
    reader = trail.role_identity(KEY_READER, READER_ARN, "AROAREADER0000000001", "r", trail.at(40))
    found.append(
        trail.record("c0000009-0000-4000-8000-000000000009", trail.at(41), reader, account=trail.ACCOUNT_C)
    )
    return found


@pytest.fixture(scope="module")
def api(migrated_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    root = tmp_path_factory.mktemp("cross-account")
    extra = trail.write_trail(root / trail.trail_path(trail.ACCOUNT_C, "Cd1"), data_events_logged_in_c())
    with trail_api(migrated_store, TOKENS, extra=[extra]) as client:
        yield client


def test_a_limited_session_counts_only_the_calls_it_can_list(api: Api) -> None:
    # Act
    seen = as_token(api, B_ONLY).data(SESSION, {"key": trail.KEY_B})["session"]
    listed = walk_calls(as_token(api, B_ONLY), trail.KEY_B, first=2)

    # Assert: the figures are those of the calls B logged, which are exactly the calls it lists
    assert {call["recipientAccountId"] for call in listed} == {trail.ACCOUNT_B}
    assert seen["apiCallCount"] == len(listed) == trail.EXPECTED_CALLS[trail.KEY_B]
    assert seen["errorCount"] == sum(1 for call in listed if call["errorCode"])
    assert seen["errorCount"] == trail.EXPECTED_ERRORS[trail.KEY_B]
    assert seen["distinctApiCount"] == len({call["eventName"] for call in listed})
    assert C_IP not in seen["sourceIps"]
    assert C_AGENT not in seen["userAgents"]
    assert C_REGION not in seen["regions"]
    assert seen["lastSeen"] == max(call["eventTime"] for call in listed)
    # and agree with its panels, which were already filtered
    assert seen["apiCallCount"] == sum(api["calls"] for api in seen["apiCallsByApi"])
    assert seen["errorCount"] == sum(api["errors"] for api in seen["apiCallsByApi"])
    assert seen["apiCallCount"] == sum(point["calls"] for point in seen["activity"])
    assert seen["sourceIps"] == sorted(row["value"] for row in seen["apiCallsBySourceIp"])


def test_a_limited_session_with_no_visible_call_counts_nothing(api: Api) -> None:
    # Act
    seen = as_token(api, B_ONLY).data(SESSION, {"key": KEY_READER})["session"]
    whole = api.data(SESSION, {"key": KEY_READER})["session"]

    # Assert: still visible (a credential of B), with nothing counted
    assert walk_calls(as_token(api, B_ONLY), KEY_READER, first=5) == []
    assert (seen["apiCallCount"], seen["errorCount"], seen["distinctApiCount"]) == (0, 0, 0)
    assert (seen["sourceIps"], seen["userAgents"], seen["regions"]) == ([], [], [])
    assert whole["apiCallCount"] == 1


def test_an_unlimited_session_counts_every_account(api: Api) -> None:
    # Act
    whole = api.data(SESSION, {"key": trail.KEY_B})["session"]
    listed = walk_calls(api, trail.KEY_B, first=50)

    # Assert
    assert whole["apiCallCount"] == len(listed) == trail.EXPECTED_CALLS[trail.KEY_B] + C_CALLS
    assert whole["errorCount"] == trail.EXPECTED_ERRORS[trail.KEY_B] + C_ERRORS
    assert C_IP in whole["sourceIps"]
    assert C_REGION in whole["regions"]
    assert C_AGENT in whole["userAgents"]
    assert whole["lastSeen"] == (LATE + timedelta(minutes=C_CALLS - 1)).isoformat()


def test_a_listed_session_counts_only_the_tokens_calls(api: Api) -> None:
    # Act
    limited = sessions_page(as_token(api, B_ONLY), role=trail.DEPLOYER_ARN)
    whole = sessions_page(api, role=trail.DEPLOYER_ARN)

    # Assert
    assert [e["node"]["apiCallCount"] for e in limited["edges"]] == [trail.EXPECTED_CALLS[trail.KEY_B]]
    assert [e["node"]["apiCallCount"] for e in whole["edges"]] == [
        trail.EXPECTED_CALLS[trail.KEY_B] + C_CALLS
    ]


def test_a_limited_principal_and_role_count_only_the_tokens_calls(api: Api) -> None:
    # Act
    alice = {"kind": "IAM_USER", "id": trail.ALICE_ARN, **WINDOW}
    principal = as_token(api, AB).data(PRINCIPAL, alice)["principal"]
    role = as_token(api, AB).data(ROLE, {"arn": trail.DEPLOYER_ARN})["role"]
    b_role = as_token(api, B_ONLY).data(ROLE, {"arn": trail.DEPLOYER_ARN})["role"]
    whole = api.data(ROLE, {"arn": trail.DEPLOYER_ARN})["role"]

    # Assert: alice's visible credential is Deployer's session in B; C's copies of its calls are hidden
    expected = trail.EXPECTED_CALLS[trail.KEY_B]
    assert principal == {"apiCallCount": expected, "scoped": expected}
    assert role["apiCallCount"] == b_role["apiCallCount"] == expected
    assert role["originUsage"] == [{"apiCallCount": expected}]
    assert [e["node"]["apiCallCount"] for e in b_role["sessions"]["edges"]] == [expected]
    assert [e["node"]["errorCount"] for e in b_role["sessions"]["edges"]] == [
        trail.EXPECTED_ERRORS[trail.KEY_B]
    ]
    assert b_role["lastUsed"] < whole["lastUsed"] == (LATE + timedelta(minutes=C_CALLS - 1)).isoformat()
    assert whole["apiCallCount"] == expected + C_CALLS


def test_a_limited_access_key_counts_only_the_tokens_calls(api: Api) -> None:
    # Act
    seen = as_token(api, B_ONLY).data(ACCESS_KEY, {"id": trail.KEY_B})["accessKey"]
    whole = api.data(ACCESS_KEY, {"id": trail.KEY_B})["accessKey"]

    # Assert
    assert seen["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_B]
    assert seen["errorCount"] == trail.EXPECTED_ERRORS[trail.KEY_B]
    assert whole["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_B] + C_CALLS


DEVIATIONS = """
query ($key: String!) {
  session(accessKeyId: $key) { deviations { kind value eventIds } }
}
"""


def test_a_limited_token_sees_no_deviation_resting_on_calls_it_cannot_list(api: Api) -> None:
    # Act
    whole = api.data(DEVIATIONS, {"key": trail.KEY_B})["session"]["deviations"]
    seen = as_token(api, B_ONLY).data(DEVIATIONS, {"key": trail.KEY_B})["session"]["deviations"]

    # Assert: some of the session's deviations rest on the calls C logged (its address, its API)...
    hidden = [
        d for d in whole if all(i.startswith(f"{trail.ACCOUNT_C}:") for i in d["eventIds"]) and d["eventIds"]
    ]
    assert hidden

    # ...and B's token sees exactly those resting on calls B logged (travel: on both), with only those
    def of_b(d: dict[str, Any]) -> list[str]:
        return [i for i in d["eventIds"] if i.startswith(f"{trail.ACCOUNT_B}:")]

    expected = [
        (d["kind"], d["value"], of_b(d))
        for d in whole
        if not d["eventIds"]
        or (of_b(d) and (d["kind"] != "IMPOSSIBLE_TRAVEL" or len(of_b(d)) == len(d["eventIds"])))
    ]
    assert [(d["kind"], d["value"], d["eventIds"]) for d in seen] == expected
    assert C_IP not in {d["value"] for d in seen}
