"""The GraphQL API on the real app and engine: a session's fields, chains, origins, pagination.

Every test here only reads the invented trail of tests/data/api (see trail.py there), loaded once
for the module through the real loader; tests that need other data live in test_api_data.py.
Requests go through Starlette's TestClient with a bearer token, as a client's would.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import orjson
import pytest

from api.settings import ApiSettings
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import (
    CALLS,
    SESSION,
    SESSIONS,
    WINDOW,
    Api,
    Json,
    calls_page,
    keys_of,
    load,
    open_api,
    session,
    sessions_page,
    walk_calls,
)
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    """The app on the whole invented trail (organisation trail copy included), loaded once.

    Module-scoped because loading is most of a test's time here and no test in this module writes;
    it empties the store first, as the function-scoped `store` fixture would.
    """
    truncate_all(migrated_store)
    load(Loader(migrated_store, retention_days=0), trail.paths())
    with open_api(migrated_store) as client:
        yield client


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode()


# -- a session's fields ---------------------------------------------------------------------------


def test_chained_cross_account_session_reads_whole(api: Api) -> None:
    # Act
    found = session(api, trail.KEY_C)

    # Assert
    alice = {"kind": "IAM_USER", "identifier": trail.ALICE_ARN, "displayName": "alice"}
    assert found == {
        "accessKeyId": trail.KEY_C,
        "credentialKind": "AssumeRole",
        "roleArn": trail.AUDITOR_ARN,
        "sessionName": "alice-audit",
        "accountId": trail.ACCOUNT_C,
        "issuedAt": "2024-05-01T09:05:00+00:00",
        "expiresAt": "2024-05-01T10:05:00+00:00",
        "firstSeen": "2024-05-01T09:06:00+00:00",
        "lastSeen": "2024-05-01T09:09:00+00:00",
        "apiCallCount": 4,
        "errorCount": 2,
        "sourceIdentity": "alice",
        "onBehalfOf": None,
        "origin": alice,
        "assumedBy": alice,
        "chain": [{"accessKeyId": trail.KEY_B, "roleArn": trail.DEPLOYER_ARN, "accountId": trail.ACCOUNT_B}],
        "chainGap": None,
    }


def test_counts_are_distinct_records_with_errors_and_assume_role_calls(api: Api) -> None:
    # Act
    counts = {key: session(api, key) for key in trail.ALL_KEYS}

    # Assert: the organisation trail's copies of C's records count once; the AssumeRole that
    # KEY_B made and the AssumeRole that KEY_C was refused are calls of theirs.
    assert {k: s["apiCallCount"] for k, s in counts.items()} == trail.EXPECTED_CALLS
    assert {k: s["errorCount"] for k, s in counts.items()} == trail.EXPECTED_ERRORS
    names = [node["eventName"] for node in walk_calls(api, trail.KEY_B, 10)]
    assert names == ["ListBuckets", "DescribeInstances", "CreateUser", "AssumeRole"]
    refused = [node for node in walk_calls(api, trail.KEY_C, 10) if node["eventName"] == "AssumeRole"]
    assert [node["errorCode"] for node in refused] == ["AccessDenied"]


def test_saml_session_has_the_federated_human_as_origin(api: Api) -> None:
    # Act
    found = session(api, trail.KEY_SAML)

    # Assert
    assert found["credentialKind"] == "AssumeRoleWithSAML"
    assert found["origin"] == {
        "kind": "SAML_USER",
        "identifier": f"{trail.SAML_PROVIDER}:{trail.BOB}",
        "displayName": trail.BOB,
    }
    assert found["chain"] == []
    assert found["chainGap"] is None


def test_instance_profile_session_has_the_instance_as_origin(api: Api) -> None:
    # Act
    found = session(api, trail.KEY_EC2)

    # Assert
    assert found["sessionName"] == trail.INSTANCE
    assert found["origin"] == {
        "kind": "EC2_INSTANCE",
        "identifier": trail.INSTANCE,
        "displayName": trail.INSTANCE,
    }
    assert (found["apiCallCount"], found["errorCount"]) == (3, 1)


def test_identity_center_session_without_minting_record_names_its_user(api: Api) -> None:
    # Act: no minting record names this key, but an AWSReservedSSO role session is named after its user
    found = session(api, trail.KEY_SSO)

    # Assert: the user is the origin (no gap), and the Identity Center user id is shown as a claim
    assert found["onBehalfOf"] == trail.CAROL_USER_ID
    assert found["origin"] == {"kind": "IDENTITY_CENTER_USER", "identifier": "carol", "displayName": "carol"}
    assert found["issuedAt"] == "2024-05-01T11:00:00+00:00"  # from sessionContext.creationDate
    assert found["chainGap"] is None


def test_missing_parent_minting_record_is_a_visible_gap(api: Api) -> None:
    # Act
    child = session(api, trail.KEY_GAP_CHILD)

    # Assert: the parent is known from its calls, but who minted it is not: no origin, a gap
    assert [s["accessKeyId"] for s in child["chain"]] == [trail.KEY_GAP_PARENT]
    assert child["chain"][0]["roleArn"] == trail.JUMP_ARN
    assert child["origin"] is None
    assert child["assumedBy"] is None
    assert child["chainGap"] == {
        "accountId": trail.ACCOUNT_C,
        "roleArn": trail.JUMP_ARN,
        "principalId": f"{trail.JUMP_ID}:ci",
        "time": "2024-05-01T12:50:00+00:00",  # the parent's creation date: when the missing record was made
    }


def test_unknown_key_is_null_and_an_empty_key_is_refused(api: Api) -> None:
    # Act
    unknown = api.data(SESSION, {"key": "ASIANOSUCHKEY0000000"})
    long_term = api.data(SESSION, {"key": trail.ALICE_AKIA})
    empty = api.errors(SESSION, {"key": "  "})

    # Assert
    assert unknown == {"session": None}
    assert long_term == {"session": None}  # a long-term key is not a session
    assert empty[0]["message"] == "accessKeyId must be 1 to 512 characters"
    assert empty[0]["extensions"]["code"] == "BAD_REQUEST"


# -- apiCalls pagination ----------------------------------------------------------------------------


def test_walking_api_calls_yields_every_call_once_in_order(api: Api) -> None:
    # Act
    one_by_one = walk_calls(api, trail.KEY_C, 1)
    at_once = walk_calls(api, trail.KEY_C, 50)

    # Assert
    assert one_by_one == at_once
    assert len({node["eventId"] for node in one_by_one}) == len(one_by_one) == 4
    order = [(node["eventTime"], node["recipientAccountId"], node["eventId"]) for node in one_by_one]
    assert order == sorted(order)


def test_exactly_the_last_page_has_no_next_page(api: Api) -> None:
    # Act
    whole = calls_page(api, trail.KEY_C, first=4)
    short = calls_page(api, trail.KEY_C, first=3)
    rest = calls_page(api, trail.KEY_C, first=3, after=short["pageInfo"]["endCursor"])

    # Assert
    assert (len(whole["edges"]), whole["pageInfo"]["hasNextPage"]) == (4, False)
    assert (len(short["edges"]), short["pageInfo"]["hasNextPage"]) == (3, True)
    assert (len(rest["edges"]), rest["pageInfo"]["hasNextPage"]) == (1, False)
    assert rest["pageInfo"]["endCursor"] == whole["pageInfo"]["endCursor"]


def test_empty_pages(api: Api) -> None:
    # Act
    past_the_end = calls_page(api, trail.KEY_C, after=calls_page(api, trail.KEY_C)["pageInfo"]["endCursor"])
    zero = calls_page(api, trail.KEY_C, first=0)
    outside = calls_page(api, trail.KEY_C, **{"from": "2024-06-01T00:00:00Z", "to": "2024-06-02T00:00:00Z"})

    # Assert
    assert past_the_end == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    assert zero == {"edges": [], "pageInfo": {"hasNextPage": True, "endCursor": None}}
    assert outside == {"edges": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}


def test_api_calls_time_window(api: Api) -> None:
    # Act
    page = calls_page(api, trail.KEY_C, **{"from": "2024-05-01T09:07:00Z", "to": "2024-05-01T09:09:00Z"})

    # Assert: from is inclusive, to exclusive
    assert [edge["node"]["eventName"] for edge in page["edges"]] == ["ListUsers", "StopLogging"]


def test_api_calls_window_must_be_ordered(api: Api) -> None:
    # Act
    errors = api.errors(
        CALLS, {"key": trail.KEY_C, "from": "2024-05-01T10:00:00Z", "to": "2024-05-01T09:00:00Z"}
    )

    # Assert
    assert errors[0]["message"] == "`from` must be before `to`"


def test_a_sessions_cursor_is_refused_by_api_calls_and_the_reverse(api: Api) -> None:
    # Arrange
    session_cursor = sessions_page(api, first=1)["pageInfo"]["endCursor"]
    call_cursor = calls_page(api, trail.KEY_C, first=1)["pageInfo"]["endCursor"]

    # Act
    into_calls = api.errors(CALLS, {"key": trail.KEY_C, "after": session_cursor})
    into_sessions = api.errors(SESSIONS, {**WINDOW, "after": call_cursor})

    # Assert
    for errors in (into_calls, into_sessions):
        assert errors[0]["message"] == "this cursor belongs to another list"
        assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "",
        "!!!!",
        "é" * 40,
        "A" * 10_000,
        forge({"call": 1}),
        forge(["call", "2024-05-01T09:06:00"]),
        forge(["call", "not a time", "333333333333", "x"]),
        forge(["call", "0001-01-01T00:00:00", "333333333333", "x"]),
        forge(["call", 12, "333333333333", "x"]),
    ],
    ids=["word", "empty", "punctuation", "unicode", "10k", "object", "short", "bad-time", "year-1", "number"],
)
def test_garbage_cursors_are_refused(api: Api, cursor: str) -> None:
    # Act
    errors = api.errors(CALLS, {"key": trail.KEY_C, "after": cursor})

    # Assert
    assert errors[0]["message"] in ("invalid cursor", "this cursor belongs to another list")
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


# -- the sessions list ------------------------------------------------------------------------------


def test_sessions_filters(api: Api) -> None:
    # Act
    everything = sessions_page(api)
    in_b = sessions_page(api, account=trail.ACCOUNT_B)
    deployer = sessions_page(api, role=trail.DEPLOYER_ARN)
    in_c_not_deployer = sessions_page(api, account=trail.ACCOUNT_C, role=trail.DEPLOYER_ARN)
    morning = sessions_page(api, **{"from": "2024-05-01T09:00:00Z", "to": "2024-05-01T10:00:00Z"})
    later = sessions_page(api, **{"from": "2024-05-01T12:55:00Z", "to": "2024-05-02T00:00:00Z"})

    # Assert: newest first
    assert keys_of(everything) == [
        trail.KEY_GAP_CHILD,
        trail.KEY_GAP_PARENT,
        trail.KEY_EC2,
        trail.KEY_SSO,
        trail.KEY_SAML,
        trail.KEY_C,
        trail.KEY_B,
    ]
    assert set(keys_of(in_b)) == {trail.KEY_B, trail.KEY_SAML, trail.KEY_SSO}
    assert keys_of(deployer) == [trail.KEY_B]
    assert keys_of(in_c_not_deployer) == []
    assert keys_of(morning) == [trail.KEY_C, trail.KEY_B]
    assert keys_of(later) == [trail.KEY_GAP_CHILD, trail.KEY_GAP_PARENT]


def test_sessions_default_scope_is_recent(api: Api) -> None:
    # Act: no from/to: the last 90 days, and the trail is from 2024
    page = api.data("{ sessions { edges { node { accessKeyId } } pageInfo { hasNextPage } } }")["sessions"]

    # Assert
    assert page == {"edges": [], "pageInfo": {"hasNextPage": False}}


def test_walking_sessions_yields_each_once(api: Api) -> None:
    # Act
    seen: list[str] = []
    after = None
    for _ in range(10):
        page = sessions_page(api, first=2, after=after)
        seen += keys_of(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Assert
    assert seen == keys_of(sessions_page(api))
    assert len(seen) == len(set(seen)) == len(trail.ALL_KEYS)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"}, "`from` must be before `to`"),
        ({"to": "0001-01-01T00:00:00Z"}, "`to` must be between 1970-01-01 and 2106-01-01"),
        ({"from": "1960-01-01T00:00:00Z"}, "`from` must be between 1970-01-01 and 2106-01-01"),
        ({"from": "2024-05-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"}, "`to` must be between"),
    ],
)
def test_sessions_time_scope_is_checked(api: Api, variables: Json, message: str) -> None:
    # Act
    errors = api.errors(SESSIONS, variables)

    # Assert
    assert errors[0]["message"].startswith(message)
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


def test_times_with_an_offset_mean_the_same_instant(api: Api) -> None:
    # Act: 11:00+02:00 is 09:00Z
    page = sessions_page(api, **{"from": "2024-05-01T11:00:00+02:00", "to": "2024-05-01T12:00:00+02:00"})

    # Assert
    assert keys_of(page) == [trail.KEY_C, trail.KEY_B]


# -- limits -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("first", [501, 10_000, 2**31 - 1])
def test_page_size_is_capped(api: Api, first: int) -> None:
    # Act
    listing = api.errors(SESSIONS, {**WINDOW, "first": first})
    calls = api.errors(CALLS, {"key": trail.KEY_C, "first": first})

    # Assert
    for errors in (listing, calls):
        assert errors[0]["message"] == "`first` is at most 500"
        assert errors[0]["extensions"]["code"] == "BAD_REQUEST"


def test_negative_first_is_refused(api: Api) -> None:
    # Act
    listing = api.errors(SESSIONS, {**WINDOW, "first": -1})
    calls = api.errors(CALLS, {"key": trail.KEY_C, "first": -5})

    # Assert
    for errors in (listing, calls):
        assert errors[0]["message"] == "`first` must not be negative"


def test_first_beyond_32_bits_is_a_graphql_error(api: Api) -> None:
    # Act
    errors = api.errors(SESSIONS, {**WINDOW, "first": 2**40})

    # Assert
    assert "Int cannot represent non 32-bit signed integer value" in errors[0]["message"]


def test_default_limits_refuse_a_deep_query(api: Api) -> None:
    # Arrange
    nested = "accessKeyId"
    for _ in range(ApiSettings().max_query_depth + 1):
        nested = f"chain {{ {nested} }}"

    # Act
    errors = api.errors(f'query Deep {{ session(accessKeyId: "{trail.KEY_C}") {{ {nested} }} }}')

    # Assert
    assert (
        errors[0]["message"] == f"'Deep' exceeds maximum operation depth of {ApiSettings().max_query_depth}"
    )


# -- authentication ---------------------------------------------------------------------------------


# -- errors -----------------------------------------------------------------------------------------


def test_client_mistakes_keep_their_message(api: Api) -> None:
    # Act
    errors = api.errors(SESSIONS, {"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"})
    unknown_field = api.errors("{ sessions { nope } }")
    not_a_time = api.errors(SESSIONS, {"from": "yesterday"})
    not_an_int = api.errors(SESSIONS, {"first": "ten"})

    # Assert
    assert errors[0]["message"] == "`from` must be before `to`"
    assert errors[0]["path"] == ["sessions"]
    assert "Cannot query field 'nope' on type 'RoleSessionConnection'." in unknown_field[0]["message"]
    assert not_a_time[0]["message"].startswith(
        "Variable '$from' has invalid value: Value cannot represent a DateTime"
    )
    assert (
        not_an_int[0]["message"]
        == "Variable '$first' has invalid value: Int cannot represent non-integer value: 'ten'"
    )
