"""Tokens limited to accounts (api.scoping): what a limited token can and cannot see, by list, by
key lookup, by traversal and by export, on the invented trail (alice in A assumes Deployer in B,
which assumes Auditor in C; bob and carol in B; the instance and the Jump/Build chain in C)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from api.permissions import parse_token
from api.scoping import REDACTED
from clickhouse.client import Store
from tests.data.api import trail
from tests.data.api.harness import WINDOW, Api, as_token, keys_of, sessions_page, trail_api

pytestmark = pytest.mark.clickhouse

C_ONLY = "c-only-secret"
B_ONLY = "b-only-secret"
AB = "a-and-b-secret"
TOKENS = (
    "test-token",
    f"c-reader:read@{trail.ACCOUNT_C}:{C_ONLY}",
    f"b-reader:read@{trail.ACCOUNT_B}:{B_ONLY}",
    f"ab-reader:read@{trail.ACCOUNT_A}+{trail.ACCOUNT_B}:{AB}",
)
C_KEYS = [trail.KEY_C, trail.KEY_EC2, trail.KEY_GAP_PARENT, trail.KEY_GAP_CHILD]
B_KEYS = [trail.KEY_B, trail.KEY_SAML, trail.KEY_SSO]

SESSION = """
query ($key: String!) {
  session(accessKeyId: $key) {
    accessKeyId redacted accountId apiCallCount
    origin { kind identifier }
    chain { accessKeyId redacted roleArn accountId apiCallCount }
    chainGap { accountId }
    childSessions { accessKeyId }
    apiCalls(first: 50) { edges { node { recipientAccountId eventName raw } } }
    apiCallsByApi { name calls }
  }
}
"""
PRINCIPAL = """
query ($kind: PrincipalKind!, $id: String!) {
  principal(kind: $kind, identifier: $id) {
    identifier sessionCount apiCallCount
    sessions { edges { node { accessKeyId } } }
    apiCalls { edges { node { recipientAccountId } } }
    roles { arn }
  }
}
"""
ROLE = """
query ($arn: String!) {
  role(arn: $arn) {
    arn sessionCount apiCallCount
    origins { identifier }
    sessions { edges { node { accessKeyId chain { accessKeyId redacted } } } }
    apiCallsByRegion { value calls }
  }
}
"""


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    with trail_api(migrated_store, TOKENS) as client:
        yield client


def test_the_account_list_is_part_of_the_scope() -> None:
    # Act
    token = parse_token(f"ops:read@{trail.ACCOUNT_A}+{trail.ACCOUNT_B}:sec:ret", 1)
    plain = parse_token("ops:read:sec:ret", 1)

    # Assert: the token may still hold colons; without '@' every account
    assert (token.name, token.scope, token.accounts) == (
        "ops",
        "read",
        frozenset({trail.ACCOUNT_A, trail.ACCOUNT_B}),
    )
    assert token.secret == b"sec:ret"
    assert plain.accounts is None


@pytest.mark.parametrize("accounts", ["", "12345", "1111111111111", "111111111111,222222222222", "abc"])
def test_a_malformed_account_list_is_refused(accounts: str) -> None:
    # Act / Assert
    with pytest.raises(ValueError, match="12-digit AWS account ids"):
        parse_token(f"ops:read@{accounts}:secret", 2)


def test_listing_shows_only_the_tokens_accounts(api: Api) -> None:
    # Act
    everything = keys_of(sessions_page(api))
    c_only = keys_of(sessions_page(as_token(api, C_ONLY)))
    b_only = keys_of(sessions_page(as_token(api, B_ONLY)))

    # Assert
    assert sorted(everything) == sorted(C_KEYS + B_KEYS)
    assert sorted(c_only) == sorted(C_KEYS)
    assert sorted(b_only) == sorted(B_KEYS)


def test_a_session_of_another_account_is_null_by_key(api: Api) -> None:
    # Act
    found = as_token(api, C_ONLY).data(SESSION, {"key": trail.KEY_B})

    # Assert: exactly what an unknown key gives
    assert found == {"session": None}
    assert as_token(api, C_ONLY).data(SESSION, {"key": "ASIANOSUCHKEY0000000"}) == found


def test_a_chain_into_a_hidden_account_shows_a_redacted_hop_and_no_origin(api: Api) -> None:
    # Act
    seen = as_token(api, C_ONLY).data(SESSION, {"key": trail.KEY_C})["session"]
    whole = api.data(SESSION, {"key": trail.KEY_C})["session"]

    # Assert: the hop in B keeps its place but says nothing; alice (A) is not named
    assert [hop["accessKeyId"] for hop in whole["chain"]] == [trail.KEY_B]
    assert seen["chain"] == [
        {
            "accessKeyId": f"{REDACTED}1",
            "redacted": True,
            "roleArn": None,
            "accountId": None,
            "apiCallCount": 0,
        }
    ]
    assert whole["origin"]["identifier"] == trail.ALICE_ARN
    assert seen["origin"] is None
    assert trail.ALICE_ARN not in str(seen)
    assert trail.KEY_B not in str(seen)
    # Its own calls (all logged in C) are unchanged
    assert seen["apiCallCount"] == whole["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_C]
    assert seen["apiCalls"] == whole["apiCalls"]


def test_children_in_a_hidden_account_are_left_out(api: Api) -> None:
    # Act
    seen = as_token(api, B_ONLY).data(SESSION, {"key": trail.KEY_B})["session"]
    whole = api.data(SESSION, {"key": trail.KEY_B})["session"]

    # Assert
    assert whole["childSessions"] == [{"accessKeyId": trail.KEY_C}]
    assert seen["childSessions"] == []
    assert seen["origin"] is None  # alice is in A
    assert seen["redacted"] is False


def test_a_token_for_both_accounts_sees_the_origin(api: Api) -> None:
    # Act
    seen = as_token(api, AB).data(SESSION, {"key": trail.KEY_B})["session"]

    # Assert
    assert seen["origin"] == {"kind": "IAM_USER", "identifier": trail.ALICE_ARN}


def test_a_principal_of_another_account_is_null(api: Api) -> None:
    # Act
    c_view = as_token(api, C_ONLY).data(PRINCIPAL, {"kind": "IAM_USER", "id": trail.ALICE_ARN})
    ab_view = as_token(api, AB).data(PRINCIPAL, {"kind": "IAM_USER", "id": trail.ALICE_ARN})["principal"]

    # Assert: C sees none of alice; A+B sees her, with only the credential in B and the calls B logged
    assert c_view == {"principal": None}
    assert [e["node"]["accessKeyId"] for e in ab_view["sessions"]["edges"]] == [trail.KEY_B]
    assert ab_view["sessionCount"] == 1
    assert {e["node"]["recipientAccountId"] for e in ab_view["apiCalls"]["edges"]} == {trail.ACCOUNT_B}
    assert ab_view["apiCallCount"] == trail.EXPECTED_CALLS[trail.KEY_B]
    assert ab_view["roles"] == [{"arn": trail.DEPLOYER_ARN}]


def test_a_role_of_another_account_is_null_and_a_visible_role_hides_foreign_origins(api: Api) -> None:
    # Act
    deployer = as_token(api, C_ONLY).data(ROLE, {"arn": trail.DEPLOYER_ARN})
    auditor = as_token(api, C_ONLY).data(ROLE, {"arn": trail.AUDITOR_ARN})["role"]
    whole = api.data(ROLE, {"arn": trail.AUDITOR_ARN})["role"]

    # Assert
    assert deployer == {"role": None}
    assert whole["origins"] == [{"identifier": trail.ALICE_ARN}]
    assert auditor["origins"] == []
    assert auditor["sessionCount"] == 1
    assert auditor["sessions"]["edges"][0]["node"]["chain"] == [
        {"accessKeyId": f"{REDACTED}1", "redacted": True}
    ]
    assert auditor["apiCallsByRegion"] == whole["apiCallsByRegion"]


def test_a_redacted_key_looks_up_nothing(api: Api) -> None:
    # Act
    found = api.data(SESSION, {"key": f"{REDACTED}1"})

    # Assert
    assert found == {"session": None}


def test_exports_of_hidden_sessions_and_principals_are_empty_or_missing(api: Api) -> None:
    # Arrange
    headers = {"Authorization": f"Bearer {C_ONLY}"}
    alice = f"/export/principals/IAM_USER/{quote(trail.ALICE_ARN, safe='')}/calls"

    # Act
    hidden = api.http.get(f"/export/sessions/{trail.KEY_B}/calls", headers=headers)
    visible = api.http.get(f"/export/sessions/{trail.KEY_C}/calls", headers=headers)
    principal = api.http.get(alice, headers=headers)
    principal_unlimited = api.http.get(alice, headers=api.auth)

    # Assert
    assert (hidden.status_code, hidden.text) == (200, "")
    assert len(visible.text.splitlines()) == trail.EXPECTED_CALLS[trail.KEY_C]
    assert principal.status_code == 404
    assert principal_unlimited.status_code == 200
    assert (
        len(principal_unlimited.text.splitlines())
        == trail.EXPECTED_CALLS[trail.KEY_B] + trail.EXPECTED_CALLS[trail.KEY_C]
    )


def test_the_window_of_a_limited_listing_still_applies(api: Api) -> None:
    # Act
    page = as_token(api, C_ONLY).data(
        'query ($from: DateTime, $to: DateTime) { sessions(from: $from, to: $to, accountId: "222222222222") '
        "{ edges { node { accessKeyId } } } }",
        WINDOW,
    )

    # Assert: asking for B's sessions by filter does not widen the token's view
    assert page["sessions"]["edges"] == []
