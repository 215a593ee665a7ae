"""The investigator's four questions over the fixture organisation, one request each, and the
principal and role reads behind them.

(1) an access key -> origin and chain; (2) a principal -> what it did through every chained
session (by API, and call by call); (3) an instance -> every re-issued credential and its calls;
(4) a role -> who used it from which account, how much and when last. Expected values come from
the scenario definitions and the records (tests/data/attribution); the files are loaded once.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Api, Json, open_api
from tests.data.attribution import make, queries, scenarios
from tests.data.attribution.answers import fixture_answers
from tests.data.attribution.queries import FIXTURE_WINDOW
from tests.data.attribution.records import Role, User, api_time, at
from tests.data.attribution.scenarios import Who
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

ANSWERS = fixture_answers()
EXPECTED = ANSWERS.sessions


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    """The app on every committed fixture file (exports included), loaded once in one batch."""
    truncate_all(migrated_store)
    results = Loader(migrated_store, retention_days=0).load_many([file_ref(p) for p in make.paths()])
    assert [r.status for r in results] == [LOADED] * len(results), results
    with open_api(migrated_store) as client:
        yield client


def principal(api: Api, who: Who, document: str = queries.PRINCIPAL, **variables: Any) -> Json:
    found = queries.principal(api, document, who.kind, who.identifier, **variables)
    assert found is not None, who
    return found


def walk_principal_calls(api: Api, who: Who, first: int) -> list[Json]:
    nodes: list[Json] = []
    after = None
    for _ in range(200):
        page = principal(api, who, queries.PRINCIPAL_CALLS, first=first, after=after)["apiCalls"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]
    raise AssertionError("pagination did not end")


def call_ids(nodes: list[Json]) -> list[tuple[str, str]]:
    return [(n["recipientAccountId"], n["eventId"]) for n in nodes]


def last_call(keys: list[str]) -> str:
    last = max(c.event_time for c in ANSWERS.calls_of(keys))
    return api_time(datetime.fromisoformat(last.replace("Z", "+00:00")))


# -- (1) an access key: origin and chain ------------------------------------------------------------


def test_q1_a_key_five_hops_down_leads_through_four_accounts_to_the_saml_user(api: Api) -> None:
    # Act
    found = queries.session(api, queries.QUESTION_KEY, scenarios.K5)

    # Assert
    assert found is not None
    assert found["origin"] == {
        **scenarios.DANA_WHO.api(),
        "accountId": scenarios.MGMT,
        "accountName": "acme-management",
    }
    assert found["chain"] == [
        {"accessKeyId": scenarios.K4, "roleArn": scenarios.AUDIT.arn, "accountId": scenarios.SEC,
         "credentialKind": "AssumeRole"},
        {"accessKeyId": scenarios.K3, "roleArn": scenarios.DEPLOY.arn, "accountId": scenarios.DEV,
         "credentialKind": "AssumeRole"},
        {"accessKeyId": scenarios.K2, "roleArn": scenarios.OPS.arn, "accountId": scenarios.PROD,
         "credentialKind": "AssumeRole"},
        {"accessKeyId": scenarios.K1, "roleArn": scenarios.ENGINEER.arn, "accountId": scenarios.MGMT,
         "credentialKind": "AssumeRoleWithSAML"},
    ]  # fmt: skip
    assert found["chainGap"] is None
    assert (found["credentialKind"], found["sourceIdentity"], found["sourceIdentityDisagrees"]) == (
        "AssumeRole",
        "Dana",
        False,
    )


def test_q1_the_unlogged_account_is_a_gap_and_its_account_the_origin(api: Api) -> None:
    # Act
    found = queries.session(api, queries.QUESTION_KEY, scenarios.G5)

    # Assert: the chain stops where the data-platform account's copy is missing; erin's
    # sourceIdentity rides along as a claim, but the origin is the account, never a guessed user
    assert found is not None
    assert found["origin"] == {
        "kind": "AWS_ACCOUNT",
        "identifier": scenarios.DATA,
        "accountId": scenarios.DATA,
        "accountName": "acme-data-platform",
    }
    assert queries.keys(found["chain"]) == [scenarios.G4, scenarios.G3]
    gap = found["chainGap"]
    assert gap is not None
    assert (gap["accountId"], gap["principalId"], gap["time"]) == (
        scenarios.DATA,
        scenarios.BRIDGE.principal_id("erin"),
        api_time(at(4, 10)),
    )
    assert found["sourceIdentity"] == "erin"


# -- (2) a principal: by API, and every call through every chained session ------------------------


def test_q2_a_principal_answers_by_api_and_a_first_page_of_calls_in_one_request(api: Api) -> None:
    # Arrange
    keys = ANSWERS.sessions_of(scenarios.DANA_WHO)
    calls = ANSWERS.calls_of(keys)

    # Act
    found = principal(api, scenarios.DANA_WHO, queries.QUESTION_PRINCIPAL, first=4)

    # Assert
    assert keys == sorted((scenarios.K1, scenarios.K2, scenarios.K3, scenarios.K4, scenarios.K5))
    assert (found["kind"], found["identifier"], found["accountId"]) == (
        "SAML_USER",
        scenarios.DANA_WHO.identifier,
        scenarios.MGMT,
    )
    assert (found["sessionCount"], found["apiCallCount"], found["directApiCallCount"]) == (5, len(calls), 0)
    assert sorted(found["apiCallsByApi"], key=lambda a: (a["service"], a["name"])) == ANSWERS.by_api(keys)
    page = found["apiCalls"]
    assert call_ids([e["node"] for e in page["edges"]]) == [c.id for c in calls[:4]]
    assert page["pageInfo"]["hasNextPage"] is True


def test_q2_walking_a_principals_calls_yields_every_call_of_every_session_once_oldest_first(
    api: Api,
) -> None:
    # Act
    nodes = walk_principal_calls(api, scenarios.DANA_WHO, 4)

    # Assert: the security account's organisation-trail copies are not calls twice
    expected = ANSWERS.calls_of(ANSWERS.sessions_of(scenarios.DANA_WHO))
    assert call_ids(nodes) == [c.id for c in expected]
    assert [n["eventTime"] for n in nodes] == sorted(n["eventTime"] for n in nodes)


def test_q2_page_size_does_not_change_the_walk(api: Api) -> None:
    # Act
    one_by_one = walk_principal_calls(api, scenarios.DANA_WHO, 1)
    at_once = walk_principal_calls(api, scenarios.DANA_WHO, 100)

    # Assert
    assert one_by_one == at_once


def test_a_principals_sessions_are_every_credential_chained_from_it(api: Api) -> None:
    # Act
    keys: list[str] = []
    after = None
    while True:
        page = principal(api, scenarios.DANA_WHO, queries.PRINCIPAL_SESSIONS, first=2, after=after)[
            "sessions"
        ]
        keys += [edge["node"]["accessKeyId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Assert
    assert sorted(keys) == ANSWERS.sessions_of(scenarios.DANA_WHO)


def test_a_principals_roles_are_those_its_sessions_used(api: Api) -> None:
    # Act
    found = principal(api, scenarios.DANA_WHO)

    # Assert
    roles = (scenarios.ENGINEER, scenarios.OPS, scenarios.DEPLOY, scenarios.AUDIT, scenarios.BREAKGLASS)
    assert sorted(r["arn"] for r in found["roles"]) == sorted(r.arn for r in roles)


@pytest.mark.parametrize(
    "who",
    [
        scenarios.DANA_WHO,
        scenarios.ERIN_WHO,
        scenarios.GINA_WHO,
        scenarios.HANA_WHO,
        scenarios.COGNITO_WHO,
        scenarios.GITHUB_WHO,
        scenarios.IRSA_WHO,
        scenarios.FEDERATED_WHO,
        scenarios.INSTANCE_WHO,
        scenarios.NODE_WHO,
        scenarios.TASK_WHO,
        scenarios.LAMBDA_WHO,
        scenarios.DATA_ACCOUNT_WHO,
        scenarios.iam_user(scenarios.BOB),
        scenarios.iam_user(scenarios.FRANK),
        scenarios.iam_user(scenarios.IVAN),
        scenarios.iam_user(scenarios.MALLORY),
        scenarios.iam_user(scenarios.KIM),
    ],
    ids=lambda who: f"{who.kind}:{who.identifier.rsplit('/', 1)[-1]}",
)
def test_a_principals_session_and_call_counts(api: Api, who: Who) -> None:
    # Act
    found = principal(api, who)

    # Assert
    keys = ANSWERS.sessions_of(who)
    assert keys, "every principal here has sessions"
    assert (found["kind"], found["identifier"]) == (who.kind, who.identifier)
    assert (found["sessionCount"], found["apiCallCount"]) == (len(keys), len(ANSWERS.calls_of(keys)))


def test_a_cognito_identity_is_one_principal_whichever_flow_minted_its_credentials(api: Api) -> None:
    # Act
    found = principal(api, scenarios.COGNITO_WHO)

    # Assert: every Cognito session is named CognitoIdentityCredentials; the identity id tells them apart
    assert found["sessionCount"] == 2
    assert sorted(r["arn"] for r in found["roles"]) == [scenarios.COGNITO_ROLE.arn]


def test_an_identity_center_users_sessions_exclude_those_only_acting_on_its_behalf(api: Api) -> None:
    # Act
    found = principal(api, scenarios.HANA_WHO)

    # Assert: TipReader's calls carry hana's onBehalfOf, but the ECS task minted that session
    assert found["sessionCount"] == 1
    assert [r["arn"] for r in found["roles"]] == [scenarios.SSO_ADMIN.arn]


@pytest.mark.parametrize(
    ("user", "direct"),
    [
        (scenarios.BOB, 2),  # GetCallerIdentity, and the AssumeRole itself
        (scenarios.BOB_SEC, 1),
        (scenarios.FRANK, 1),
        (scenarios.IVAN, 1),
        (scenarios.LENA, 0),  # console only: her calls are the console session's
        (scenarios.KIM, 1),
        (scenarios.BROKER, 1),
    ],
    ids=lambda value: f"{value.account}/{value.name}" if isinstance(value, User) else str(value),
)
def test_an_iam_users_direct_calls_are_its_long_term_key_calls(api: Api, user: User, direct: int) -> None:
    # Act
    found = principal(api, scenarios.iam_user(user))

    # Assert
    assert direct == ANSWERS.count(user.access_key)
    assert found["directApiCallCount"] == direct


def test_principals_without_keys_have_no_direct_calls(api: Api) -> None:
    # Act
    counts = [
        principal(api, who)["directApiCallCount"]
        for who in (
            scenarios.ERIN_WHO,
            scenarios.HANA_WHO,
            scenarios.INSTANCE_WHO,
            scenarios.DATA_ACCOUNT_WHO,
        )
    ]

    # Assert
    assert counts == [0, 0, 0, 0]


def test_a_denied_assume_role_adds_no_role_to_the_caller(api: Api) -> None:
    # Act
    found = principal(api, scenarios.iam_user(scenarios.BOB))

    # Assert
    assert [r["arn"] for r in found["roles"]] == [scenarios.READONLY.arn]
    assert found["sessionCount"] == 1


def test_a_principals_account_name_comes_from_the_organizations_export(api: Api) -> None:
    # Act
    found = principal(api, scenarios.iam_user(scenarios.BOB))

    # Assert
    assert (found["accountId"], found["accountName"]) == (scenarios.DEV, "acme-development")


def test_an_unlogged_accounts_name_comes_from_the_organizations_export(api: Api) -> None:
    # Act
    found = principal(api, scenarios.DATA_ACCOUNT_WHO)

    # Assert
    assert (found["accountId"], found["accountName"]) == (scenarios.DATA, "acme-data-platform")


@pytest.mark.parametrize(
    ("kind", "bare", "who"),
    [
        ("SAML_USER", scenarios.DANA, scenarios.DANA_WHO),
        ("WEB_IDENTITY_USER", scenarios.COGNITO_ID, scenarios.COGNITO_WHO),
        ("FEDERATION_TOKEN_USER", scenarios.FEDERATED_NAME, scenarios.FEDERATED_WHO),
        ("IAM_USER", "frank", scenarios.iam_user(scenarios.FRANK)),
    ],
    ids=["saml-subject", "cognito-identity-id", "federated-user-name", "iam-user-name"],
)
def test_a_bare_identifier_finds_the_principal_when_unambiguous(
    api: Api, kind: str, bare: str, who: Who
) -> None:
    # Act
    found = queries.principal(api, queries.PRINCIPAL, kind, bare)

    # Assert
    assert found is not None
    assert (found["kind"], found["identifier"]) == (who.kind, who.identifier)


@pytest.mark.parametrize(
    ("kind", "identifier"),
    [
        ("IAM_USER", "bob"),  # a user bob in development and another in security
        ("IAM_USER", "nobody"),
        ("IAM_USER", f"arn:aws:iam::{scenarios.DEV}:user/nobody"),
        ("SAML_USER", "nobody@corp.example.com"),
        ("EC2_INSTANCE", "i-00000000000000000"),
    ],
    ids=["ambiguous-name", "unknown-name", "unknown-arn", "unknown-subject", "unknown-instance"],
)
def test_an_ambiguous_or_unknown_identifier_finds_nothing(api: Api, kind: str, identifier: str) -> None:
    # Act
    found = queries.principal(api, queries.PRINCIPAL, kind, identifier)

    # Assert
    assert found is None


# -- (3) an instance: every re-issued credential and its calls ---------------------------------------


def test_q3_an_instance_answers_its_sessions_and_their_calls_in_one_request(api: Api) -> None:
    # Act
    found = api.data(queries.QUESTION_INSTANCE, {"id": scenarios.INSTANCE, **FIXTURE_WINDOW})["instance"]

    # Assert
    assert found is not None
    assert (found["kind"], found["identifier"], found["accountId"]) == (
        "EC2_INSTANCE",
        scenarios.INSTANCE,
        scenarios.PROD,
    )
    nodes = {edge["node"]["accessKeyId"]: edge["node"] for edge in found["sessions"]["edges"]}
    assert sorted(nodes) == sorted(scenarios.KEY_EC2)
    for key, node in nodes.items():
        calls = [edge["node"] for edge in node["apiCalls"]["edges"]]
        assert sorted(call_ids(calls)) == sorted(ANSWERS.calls[key]), key
        assert node["apiCallCount"] == ANSWERS.count(key)
    assert (found["sessionCount"], found["apiCallCount"]) == (3, len(ANSWERS.calls_of(scenarios.KEY_EC2)))


def test_q3_the_credential_used_from_outside_shows_the_outside_address(api: Api) -> None:
    # Act
    found = api.data(queries.QUESTION_INSTANCE, {"id": scenarios.INSTANCE, **FIXTURE_WINDOW})["instance"]

    # Assert
    addresses = {
        edge["node"]["accessKeyId"]: {c["node"]["sourceIpAddress"] for c in edge["node"]["apiCalls"]["edges"]}
        for edge in found["sessions"]["edges"]
    }
    assert addresses == {
        scenarios.KEY_EC2[0]: {scenarios.INSTANCE_IP},
        scenarios.KEY_EC2[1]: {scenarios.INSTANCE_IP, scenarios.OUTSIDE_IP},
        scenarios.KEY_EC2[2]: {scenarios.INSTANCE_IP},
    }


def test_an_unknown_instance_is_null(api: Api) -> None:
    # Act
    found = api.data(queries.QUESTION_INSTANCE, {"id": "i-00000000000000000", **FIXTURE_WINDOW})

    # Assert
    assert found == {"instance": None}


# -- (4) a role: who used it, from which account, how much, when last -----------------------------


def usage(api: Api, role: Role) -> Json:
    found: Json | None = api.data(queries.QUESTION_ROLE, {"arn": role.arn})["role"]
    assert found is not None, role.arn
    return found


def test_q4_a_role_answers_its_origins_across_accounts_with_counts_and_last_use(api: Api) -> None:
    # Arrange: Audit (security) was used by dana (SAML, management), by whoever came through the
    # unlogged data-platform account, and by mallory (IAM user, development)
    users = {
        scenarios.DANA_WHO: [scenarios.K4],
        scenarios.DATA_ACCOUNT_WHO: [scenarios.G4],
        scenarios.iam_user(scenarios.MALLORY): [scenarios.KEY_MALLORY_AUDIT],
    }

    # Act
    found = usage(api, scenarios.AUDIT)

    # Assert
    assert (found["arn"], found["name"], found["accountId"], found["sessionCount"]) == (
        scenarios.AUDIT.arn,
        "Audit",
        scenarios.SEC,
        3,
    )
    origins = sorted((o["kind"], o["identifier"], o["accountId"]) for o in found["origins"])
    assert origins == sorted(
        [
            ("SAML_USER", scenarios.DANA_WHO.identifier, scenarios.MGMT),
            ("AWS_ACCOUNT", scenarios.DATA, scenarios.DATA),
            ("IAM_USER", scenarios.MALLORY.arn, scenarios.DEV),
        ]
    )
    expected = sorted(
        (who.kind, who.identifier, len(keys), len(ANSWERS.calls_of(keys)), last_call(keys))
        for who, keys in users.items()
    )
    got = sorted(
        (
            u["principal"]["kind"],
            u["principal"]["identifier"],
            u["sessionCount"],
            u["apiCallCount"],
            u["lastUsed"],
        )
        for u in found["originUsage"]
    )
    assert got == expected


def test_a_cross_account_assume_role_is_one_session_of_the_role_with_the_callers_identity(api: Api) -> None:
    # Act: Deployer's only session was minted once and logged twice (caller's and owner's copy)
    found = usage(api, scenarios.DEPLOYER)

    # Assert
    assert found["sessionCount"] == 1
    assert [(u["principal"]["identifier"], u["sessionCount"]) for u in found["originUsage"]] == [
        (scenarios.FRANK.arn, 1)
    ]


def test_a_role_used_by_instances_has_each_instance_as_an_origin(api: Api) -> None:
    # Act
    found = usage(api, scenarios.WEB)

    # Assert
    assert found["origins"] == [
        {"kind": "EC2_INSTANCE", "identifier": scenarios.INSTANCE, "accountId": scenarios.PROD}
    ]
    assert [(u["sessionCount"], u["apiCallCount"]) for u in found["originUsage"]] == [
        (3, len(ANSWERS.calls_of(scenarios.KEY_EC2)))
    ]


def test_an_unknown_role_is_null(api: Api) -> None:
    # Act
    found = api.data(queries.QUESTION_ROLE, {"arn": f"arn:aws:iam::{scenarios.DEV}:role/NoSuchRole"})

    # Assert
    assert found == {"role": None}


def test_on_behalf_of_names_the_identity_center_user_from_the_export(api: Api) -> None:
    # Act: a session whose calls carry onBehalfOf (an identity-enhanced session)
    found = api.data(
        "query ($key: String!) {"
        " session(accessKeyId: $key) { onBehalfOf onBehalfOfUser { kind identifier } } }",
        {"key": scenarios.KEY_TIP},
    )["session"]
    # Assert: the user id in the calls is named through the Identity Store export that was loaded
    assert found["onBehalfOf"] == scenarios.HANA_ID
    assert found["onBehalfOfUser"] == {"kind": "IDENTITY_CENTER_USER", "identifier": scenarios.HANA}
