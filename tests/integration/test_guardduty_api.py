"""GraphQL over GuardDuty findings: from a finding to the person behind it, in one request."""

from __future__ import annotations

from pathlib import Path

import pytest

from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Api, Json, as_token, open_api
from tests.data.attribution.records import api_time, at
from tests.data.attribution.scenarios import HANA
from tests.data.guardduty import chain

pytestmark = pytest.mark.clickhouse

QUESTION_1 = """
query ($id: ID!) {
  finding(id: $id) {
    id type severity severityLabel firstSeen lastSeen count archived
    sessions {
      accessKeyId roleArn accountId
      origin { kind identifier }
      chain { accessKeyId accountId }
    }
    origins { kind identifier }
    apiCalls(marginMinutes: 5) { edges { node { eventName sourceIpAddress eventTime } } }
  }
}
"""

FINDINGS = """
query ($type: String, $min: Float, $account: String, $from: DateTime, $to: DateTime,
       $principal: PrincipalSelector, $first: Int, $after: String) {
  findings(type: $type, minSeverity: $min, accountId: $account, from: $from, to: $to,
           principal: $principal, first: $first, after: $after) {
    edges { cursor node { id severity } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def load_all(loader: Loader, paths: list[Path]) -> None:
    results = [loader.load(file_ref(path)) for path in paths]
    assert [r.status for r in results] == [LOADED] * len(paths), results


@pytest.fixture
def written(loader: Loader, tmp_path: Path) -> chain.Written:
    files = chain.write(tmp_path)
    load_all(loader, [*files.trails, files.export])
    return files


def finding(api: Api, query: str = QUESTION_1) -> Json:
    found: Json = api.data(query, {"id": chain.FINDING_ID})["finding"]
    return found


def calls(api: Api, arguments: str, fields: str) -> list[Json]:
    query = "query($id: ID!) { finding(id: $id) { apiCalls(%s) { edges { node { %s } } } } }"
    edges: list[Json] = api.data(query % (arguments, fields), {"id": chain.FINDING_ID})["finding"][
        "apiCalls"
    ]["edges"]
    return edges


def test_a_finding_names_the_identity_center_user_at_the_top_of_a_three_hop_chain(
    store: Store, written: chain.Written
) -> None:
    # Arrange: the chain's trails and the finding about its last session are loaded
    # Act
    with open_api(store) as api:
        found = finding(api)
    # Assert: one request answers who is behind the finding, through both accounts
    assert found["id"] == chain.FINDING_ID
    assert (found["type"], found["severity"], found["severityLabel"]) == (chain.FINDING_TYPE, 5.0, "MEDIUM")
    assert found["origins"] == [{"kind": "IDENTITY_CENTER_USER", "identifier": HANA}]
    [session] = found["sessions"]
    assert session["accessKeyId"] == chain.KEY_SECRETS
    assert session["origin"] == {"kind": "IDENTITY_CENTER_USER", "identifier": HANA}
    assert [(c["accessKeyId"], c["accountId"]) for c in session["chain"]] == [
        (chain.KEY_DEPLOY, chain.DEV),
        (chain.KEY_SSO, chain.PROD),
    ]


def test_the_api_calls_of_a_finding_are_those_of_its_sessions_in_its_window(
    store: Store, written: chain.Written
) -> None:
    # Arrange: the last session calls three times in the window and once at 11:00
    # Act
    with open_api(store) as api:
        narrow = finding(api)["apiCalls"]["edges"]
        wide = calls(api, "marginMinutes: 120", "eventName")
        action = calls(api, "onlyFindingAction: true", "eventTime")
    # Assert
    assert [e["node"]["eventName"] for e in narrow] == ["GetSecretValue", "ListSecrets", "GetSecretValue"]
    assert {e["node"]["sourceIpAddress"] for e in narrow} == {chain.ATTACKER_IP}
    assert [e["node"]["eventName"] for e in wide][-1] == "ListBuckets"
    assert [e["node"]["eventTime"] for e in action] == [api_time(at(9, 20)), api_time(at(9, 24))]


def test_findings_appear_on_the_session_and_on_the_origin_principal(
    store: Store, written: chain.Written
) -> None:
    # Arrange
    query = """
    query ($key: String!, $user: String!) {
      session(accessKeyId: $key) { findings { id } }
      sso: session(accessKeyId: $sso) { findings { id } }
      principal(kind: IDENTITY_CENTER_USER, identifier: $user) { findings { edges { node { id } } } }
    }
    """.replace("$sso", '"' + chain.KEY_SSO + '"')
    # Act
    with open_api(store) as api:
        data = api.data(query, {"key": chain.KEY_SECRETS, "user": HANA})
    # Assert: the finding names only the last key; the person behind it sees it too
    assert data["session"]["findings"] == [{"id": chain.FINDING_ID}]
    assert data["sso"]["findings"] == []
    assert data["principal"]["findings"]["edges"] == [{"node": {"id": chain.FINDING_ID}}]


def test_findings_filter_by_principal_severity_account_and_time(store: Store, written: chain.Written) -> None:
    # Arrange
    hana = {"kind": "IDENTITY_CENTER_USER", "identifier": HANA}
    other = {"kind": "IDENTITY_CENTER_USER", "identifier": "nobody@example.com"}
    cases: list[tuple[Json, list[str]]] = [
        ({"principal": hana}, [chain.FINDING_ID]),
        ({"principal": other}, []),
        ({"min": 5.0, "account": chain.DEV}, [chain.FINDING_ID]),
        ({"min": 7.0}, []),
        ({"account": chain.PROD}, []),
        (
            {"type": chain.FINDING_TYPE, "from": api_time(at(9, 23)), "to": api_time(at(10))},
            [chain.FINDING_ID],
        ),
        ({"from": api_time(at(9, 25))}, []),
        ({"to": api_time(at(9, 20))}, []),
    ]
    with open_api(store) as api:
        for variables, expected in cases:
            # Act
            page = api.data(FINDINGS, variables)["findings"]
            # Assert
            assert [e["node"]["id"] for e in page["edges"]] == expected, variables


def test_an_updated_finding_read_through_graphql_has_its_newest_state(
    store: Store, loader: Loader, written: chain.Written, tmp_path: Path
) -> None:
    # Arrange: a later export repeats the finding, updated: higher severity, seen more often, archived
    newer = chain.finding_json(updated=at(10, 30), severity=8.0, count=9, archived=True, last_seen=at(10, 10))
    load_all(loader, [chain.write_export(tmp_path, [newer], "second")])
    # Act
    with open_api(store) as api:
        found = finding(api)
        old_severity = api.data(FINDINGS, {"min": 5.0})["findings"]["edges"]
        medium_only = api.data("{ findings(maxSeverity: 6.9) { edges { node { id } } } }")["findings"][
            "edges"
        ]
    # Assert: one finding, the newest state; a filter never matches an older version
    assert (found["severity"], found["severityLabel"], found["count"], found["archived"]) == (
        8.0,
        "HIGH",
        9,
        True,
    )
    assert found["lastSeen"] == api_time(at(10, 10))
    assert len(old_severity) == 1
    assert medium_only == []


def test_an_unknown_finding_is_null(store: Store) -> None:
    # Arrange: an empty store
    # Act
    with open_api(store) as api:
        found = api.data('{ finding(id: "0123456789abcdef") { id } }')["finding"]
    # Assert
    assert found is None


def test_the_readme_question_1_query_answers_with_the_identity_center_user(
    store: Store, written: chain.Written
) -> None:
    # Arrange: the query the README documents, as written there
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("Which federated user invoked the API calls behind this finding?**", 1)[1]
    query = section.split("```graphql", 1)[1].split("```", 1)[0]
    # Act
    with open_api(store) as api:
        found = api.data(query, {"id": chain.FINDING_ID})["finding"]
    # Assert
    assert [o["identifier"] for o in found["origins"]] == [HANA]
    assert found["sessions"][0]["chainGap"] is None
    assert len(found["apiCalls"]["edges"]) == 3


def test_a_sample_finding_about_a_long_term_key_names_its_iam_user(
    store: Store, loader: Loader, samples_dir: Path
) -> None:
    # Arrange: AWS's sample finding about an IAM user's access key (no session behind it)
    folder = samples_dir / "guardduty" / "aws-samples_amazon-guardduty-automated-response-sample"
    load_all(loader, [folder / "guardduty_iam_event.json"])
    query = """{ finding(id: "30bf285e52a1e405084ff6ec28e06e17") {
        type archived severityLabel sessions { accessKeyId } origins { kind identifier }
        resources { kind id } remoteIps apiCall } }"""
    # Act
    with open_api(store) as api:
        found = api.data(query)["finding"]
    # Assert
    assert found["sessions"] == []
    assert found["origins"] == [
        {"kind": "IAM_USER", "identifier": "arn:aws:iam::123456789012:user/GeneratedFindingUserName"}
    ]
    assert (found["archived"], found["severityLabel"], found["apiCall"]) == (
        True,
        "MEDIUM",
        "GeneratedFindingAPIName",
    )
    assert {"kind": "AccessKey", "id": "GeneratedFindingAccessKeyId"} in found["resources"]
    assert found["remoteIps"] == ["198.51.100.0"]


def test_a_token_limited_to_other_accounts_sees_no_finding_of_the_development_account(
    store: Store, written: chain.Written
) -> None:
    # Arrange: the finding is in the development account; one token may read only production
    tokens = ("test-token", f"prod:read@{chain.PROD}:prod-only", f"dev:read@{chain.DEV}:dev-only")
    with open_api(store, tokens=tokens) as api:
        prod, dev = as_token(api, "prod-only"), as_token(api, "dev-only")
        # Act
        seen = [
            (
                client.data(QUESTION_1, {"id": chain.FINDING_ID})["finding"] is not None,
                [e["node"]["id"] for e in client.data(FINDINGS, {})["findings"]["edges"]],
                client.data("query($id: ID!) { finding(id: $id) { raw } }", {"id": chain.FINDING_ID})[
                    "finding"
                ],
            )
            for client in (prod, dev)
        ]
    # Assert: invisible to the production token by id and by list; whole for the development one
    assert seen[0] == (False, [], None)
    assert seen[1][:2] == (True, [chain.FINDING_ID])
    assert seen[1][2]["raw"]


def test_a_finding_whose_key_is_unknown_is_linked_by_its_api_call_from_its_address(
    loader: Loader, tmp_path: Path
) -> None:
    # Arrange: the finding names a key the store never saw (a redacted or mistyped export, say)
    unknown = chain.finding_json()
    unknown["resource"]["accessKeyDetails"]["accessKeyId"] = "ASIAUNKNOWNKEY000000"
    files = chain.write(tmp_path, [unknown])
    load_all(loader, [*files.trails, files.export])
    query = """query($id: ID!) { finding(id: $id) { linkedBy sessions { accessKeyId } origins { identifier }
        apiCalls { edges { node { eventName } } } } }"""
    # Act
    with open_api(loader.store) as api:
        found = api.data(query, {"id": chain.FINDING_ID})["finding"]
    # Assert: the session that called GetSecretValue from the attacker's address, and its origin
    assert found["linkedBy"] == "API_CALL_AND_ADDRESS"
    assert [s["accessKeyId"] for s in found["sessions"]] == [chain.KEY_SECRETS]
    assert [o["identifier"] for o in found["origins"]] == [HANA]
    assert [e["node"]["eventName"] for e in found["apiCalls"]["edges"]] == [
        "GetSecretValue", "ListSecrets", "GetSecretValue",
    ]  # fmt: skip


def test_a_finding_with_its_key_known_is_linked_by_the_key(store: Store, written: chain.Written) -> None:
    # Act
    with open_api(store) as api:
        found = api.data("query($id: ID!) { finding(id: $id) { linkedBy } }", {"id": chain.FINDING_ID})
    # Assert
    assert found["finding"]["linkedBy"] == "ACCESS_KEY"
