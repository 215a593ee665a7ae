"""Search across principals, roles, sessions, access keys and addresses, on the invented trail."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from clickhouse.client import Store
from tests.data.api import trail
from tests.data.api.harness import WINDOW, Api, Json, as_token, trail_api

pytestmark = pytest.mark.clickhouse

C_ONLY = "c-only-search"
SEARCH = """
query ($text: String!, $first: Int, $from: DateTime, $to: DateTime) {
  search(text: $text, first: $first, from: $from, to: $to) {
    kind value matchedOn exact
    session { accessKeyId } role { arn } principal { kind identifier } accessKey { owner { identifier } }
    ipAddress { address apiCallsByApi { name } }
  }
}
"""


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    with trail_api(migrated_store, ("test-token", f"c:read@{trail.ACCOUNT_C}:{C_ONLY}")) as client:
        yield client


def _search(api: Api, text: str, **variables: object) -> list[Json]:
    hits: list[Json] = api.data(SEARCH, {"text": text, **WINDOW, **variables})["search"]
    return hits


def _kinds(hits: list[Json]) -> set[tuple[str, str]]:
    return {(hit["kind"], hit["value"]) for hit in hits}


def test_a_name_finds_the_person_their_key_and_sessions(api: Api) -> None:
    # Act
    hits = _search(api, "ALICE")

    # Assert: case-insensitive, across kinds
    assert {
        ("PRINCIPAL", trail.ALICE_ARN),
        ("ACCESS_KEY", trail.ALICE_AKIA),
        ("SESSION", trail.KEY_B),
        ("SESSION", trail.KEY_C),
    } <= _kinds(hits)
    key = next(hit for hit in hits if hit["kind"] == "ACCESS_KEY")
    assert key["accessKey"] == {"owner": {"identifier": trail.ALICE_ARN}}
    person = next(hit for hit in hits if hit["kind"] == "PRINCIPAL")
    assert person["principal"] == {"kind": "IAM_USER", "identifier": trail.ALICE_ARN}


def test_an_exact_key_comes_first(api: Api) -> None:
    # Act
    hits = _search(api, trail.KEY_C.lower())

    # Assert
    assert hits[0] == {
        "kind": "SESSION", "value": trail.KEY_C, "matchedOn": "accessKeyId", "exact": True,
        "session": {"accessKeyId": trail.KEY_C}, "role": None, "principal": None, "accessKey": None,
        "ipAddress": None,
    }  # fmt: skip


def test_part_of_a_role_arn_finds_the_role_and_its_sessions(api: Api) -> None:
    # Act
    hits = _search(api, "audit/Aud")

    # Assert
    assert _kinds(hits) == {("ROLE", trail.AUDITOR_ARN), ("SESSION", trail.KEY_C)}
    role = next(hit for hit in hits if hit["kind"] == "ROLE")
    assert (role["matchedOn"], role["role"]) == ("arn", {"arn": trail.AUDITOR_ARN})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob@example", ("PRINCIPAL", f"{trail.SAML_PROVIDER}:{trail.BOB}")),
        ("i-01234567", ("PRINCIPAL", trail.INSTANCE)),
        ("i-01234567", ("SESSION", trail.KEY_EC2)),
        ("carol", ("PRINCIPAL", "carol")),
        ("10.0.1", ("IP_ADDRESS", "10.0.1.5")),
        (trail.ACCOUNT_C, ("ROLE", trail.WEB_ARN)),
        (trail.ACCOUNT_C, ("SESSION", trail.KEY_GAP_CHILD)),
    ],
    ids=["saml-subject", "instance", "instance-session", "identity-center", "address-prefix", "account-role",
         "account-session"],
)  # fmt: skip
def test_search_finds(api: Api, text: str, expected: tuple[str, str]) -> None:
    # Act / Assert
    assert expected in _kinds(_search(api, text))


def test_an_address_hit_opens_the_address_in_the_search_scope(api: Api) -> None:
    # Act
    hit = next(h for h in _search(api, "10.0.1.5") if h["kind"] == "IP_ADDRESS")

    # Assert
    assert hit["exact"] is True
    assert {row["name"] for row in hit["ipAddress"]["apiCallsByApi"]} == {"GetObject", "GetParameter"}


def test_first_caps_the_hits(api: Api) -> None:
    # Act
    hits = _search(api, "arn:aws", first=2)

    # Assert
    assert len(hits) == 2


@pytest.mark.parametrize("text", ["ab", "  a ", "x" * 257])
def test_too_short_or_long_text_is_refused(api: Api, text: str) -> None:
    # Act
    errors = api.errors(SEARCH, {"text": text})

    # Assert
    assert errors[0]["message"] == "`text` must be 3 to 256 characters"


def test_nothing_matches_nothing(api: Api) -> None:
    # Act / Assert
    assert _search(api, "zzzz-no-such-thing") == []


def test_a_limited_token_finds_only_its_accounts(api: Api) -> None:
    # Act
    hits = as_token(api, C_ONLY).data(SEARCH, {"text": "alice", **WINDOW})["search"]

    # Assert: KEY_C (in C) only; not alice (A), her key (A) or Deployer's session (B)
    assert _kinds(hits) == {("SESSION", trail.KEY_C)}
