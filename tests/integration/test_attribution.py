"""Attribution of every session of the fixture organisation (tests/data/attribution): its origin,
chain, gap, kind, counts, claims, transitive tags and children, through GraphQL.

One scenario per way of minting a credential (see the README there); the expected values come
from the scenario definitions (origins, chains) and from the records themselves (counts). The
files are loaded once for the module; no test writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Api, Json, open_api
from tests.data.attribution import make, queries, scenarios
from tests.data.attribution.answers import fixture_answers
from tests.data.attribution.records import api_time
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

ANSWERS = fixture_answers()
EXPECTED = ANSWERS.sessions
KEYS = sorted(EXPECTED, key=lambda k: (EXPECTED[k].scenario, k))
ASKED: dict[tuple[str, str], Json] = {}


@pytest.fixture(scope="module")
def api(migrated_store: Store) -> Iterator[Api]:
    """The app on every committed fixture file (exports included), loaded once in one batch."""
    truncate_all(migrated_store)
    ASKED.clear()
    results = Loader(migrated_store, retention_days=0).load_many([file_ref(p) for p in make.paths()])
    assert [r.status for r in results] == [LOADED] * len(results), results
    with open_api(migrated_store) as client:
        yield client


def ask(api: Api, document: str, key: str) -> Json:
    """A session read, sent once per module: several tests look at different fields of one answer."""
    if (document, key) not in ASKED:
        found = queries.session(api, document, key)
        assert found is not None, f"no session {key}"
        ASKED[(document, key)] = found
    return ASKED[(document, key)]


# -- the fixture files ----------------------------------------------------------------------------


def test_committed_fixture_files_are_what_the_generator_writes(tmp_path: Path) -> None:
    # Arrange
    committed = {p.relative_to(make.HERE): p.read_bytes() for p in make.paths()}

    # Act
    written = {p.relative_to(tmp_path): p.read_bytes() for p in make.write_all(tmp_path)}

    # Assert: run `python -m tests.data.attribution.make` after changing a scenario
    assert sorted(written) == sorted(committed)
    assert written == committed


def test_every_expected_session_has_calls_or_a_minting_record() -> None:
    # Arrange: a scenario typo would otherwise expect a session the files do not hold
    minted = {
        record["responseElements"]["credentials"]["accessKeyId"]
        for records in make.fixture_files().values()
        for record in records
        if isinstance(record.get("responseElements"), dict) and "credentials" in record["responseElements"]
    }

    # Act
    unknown = [k for k in EXPECTED if k not in minted and not ANSWERS.count(k)]

    # Assert
    assert unknown == []


# -- one session at a time ----------------------------------------------------------------------


@pytest.mark.parametrize("key", KEYS)
def test_origin(api: Api, key: str) -> None:
    # Act
    found = ask(api, queries.LINEAGE, key)

    # Assert
    expected = EXPECTED[key].origin
    assert found["origin"] == (expected.api() if expected else None)


@pytest.mark.parametrize("key", KEYS)
def test_chain_lists_ancestors_nearest_first(api: Api, key: str) -> None:
    # Act
    chain = queries.keys(ask(api, queries.LINEAGE, key)["chain"])

    # Assert
    expected = EXPECTED[key]
    if expected.chain_exact:
        assert chain == list(expected.chain)
    else:
        assert chain[-len(expected.chain) :] == list(expected.chain)
        assert set(chain) <= set(expected.chain) | set(expected.may_include)


@pytest.mark.parametrize("key", KEYS)
def test_chain_gap(api: Api, key: str) -> None:
    # Act
    gap = ask(api, queries.LINEAGE, key)["chainGap"]

    # Assert
    expected = EXPECTED[key].gap
    if expected is None:
        assert gap is None
        return
    assert gap is not None
    assert (gap["accountId"], gap["principalId"], gap["time"]) == (
        expected.account_id,
        expected.principal_id,
        api_time(expected.time),
    )
    assert gap["roleArn"] in expected.role_arns


@pytest.mark.parametrize("key", KEYS)
def test_credential_kind(api: Api, key: str) -> None:
    # Act
    kind = ask(api, queries.DESCRIPTION, key)["credentialKind"]

    # Assert
    expected = EXPECTED[key]
    assert kind in (expected.credential_kind, *expected.kind_alternatives)


@pytest.mark.parametrize("key", KEYS)
def test_role_and_account(api: Api, key: str) -> None:
    # Act
    found = ask(api, queries.DESCRIPTION, key)

    # Assert
    expected = EXPECTED[key]
    assert (found["roleArn"], found["accountId"]) == (expected.role_arn, expected.account)


@pytest.mark.parametrize("key", KEYS)
def test_expiry_is_read_from_the_minting_record(api: Api, key: str) -> None:
    # Act
    expires = ask(api, queries.DESCRIPTION, key)["expiresAt"]

    # Assert
    expected = EXPECTED[key].expires
    assert expires == (api_time(expected) if expected else None)


@pytest.mark.parametrize("key", KEYS)
def test_sessions_of_2024_cannot_still_be_valid(api: Api, key: str) -> None:
    # Act
    found = ask(api, queries.DESCRIPTION, key)

    # Assert
    assert found["canStillBeValid"] is False


@pytest.mark.parametrize("key", KEYS)
def test_calls_and_errors_are_counted_once_per_record(api: Api, key: str) -> None:
    # Act
    found = ask(api, queries.DESCRIPTION, key)

    # Assert: the organisation trail's copies of the security account's records count once
    assert (found["apiCallCount"], found["errorCount"]) == (ANSWERS.count(key), ANSWERS.errors(key))


@pytest.mark.parametrize("key", KEYS)
def test_source_identity_and_on_behalf_of_claims(api: Api, key: str) -> None:
    # Act
    found = ask(api, queries.CLAIMS, key)

    # Assert
    expected = EXPECTED[key]
    assert (found["sourceIdentity"], found["onBehalfOf"]) == (expected.source_identity, expected.on_behalf_of)


@pytest.mark.parametrize("key", [k for k in KEYS if EXPECTED[k].disagrees is not None])
def test_source_identity_disagreement(api: Api, key: str) -> None:
    # Act
    disagrees = ask(api, queries.CLAIMS, key)["sourceIdentityDisagrees"]

    # Assert: "Dana" names dana@corp.example.com (case-insensitive, part before @); "admin" names
    # nobody in mallory's chain; no claim never disagrees
    assert disagrees is EXPECTED[key].disagrees


@pytest.mark.parametrize("key", KEYS)
def test_transitive_tags(api: Api, key: str) -> None:
    # Act
    tags = ask(api, queries.CLAIMS, key)["transitiveTags"]

    # Assert: tags marked transitive, and those passed in from the parent; never the others
    assert sorted((t["key"], t["value"]) for t in tags) == sorted(EXPECTED[key].tags)


@pytest.mark.parametrize("key", KEYS)
def test_child_sessions(api: Api, key: str) -> None:
    # Act
    children = queries.keys(ask(api, queries.CHILDREN, key)["childSessions"])

    # Assert
    expected = EXPECTED[key]
    assert set(expected.children) <= set(children)
    assert set(children) <= set(expected.children) | set(expected.children_may_include)
    assert len(children) == len(set(children))


# -- paths that need a word more ------------------------------------------------------------------


def test_a_denied_assume_role_mints_nothing_and_is_a_call_of_the_caller(api: Api) -> None:
    # Act
    calls = ask(api, queries.SESSION_CALLS, scenarios.KEY_BOB)["apiCalls"]["edges"]
    children = ask(api, queries.CHILDREN, scenarios.KEY_BOB)["childSessions"]

    # Assert
    refused = [e["node"] for e in calls if e["node"]["eventName"] == "AssumeRole"]
    assert [(n["errorCode"], n["recipientAccountId"]) for n in refused] == [("AccessDenied", scenarios.DEV)]
    assert children == []


def test_a_federation_token_leads_to_its_minter_and_names_its_federated_user(api: Api) -> None:
    # Act
    found = ask(api, queries.BROKERED, scenarios.KEY_FEDERATED)

    # Assert: the IAM user is the top of the chain; the federated user is beside it, brokered by it
    broker = scenarios.iam_user(scenarios.BROKER).api()
    assert found["origin"] == broker
    assert found["federatedUser"] == {**scenarios.FEDERATED_WHO.api(), "brokeredBy": broker}


def test_the_hop_out_of_the_unlogged_account_is_never_guessed(api: Api) -> None:
    # Arrange: management's copy of erin's hop into Bridge names the same principal id
    # (AROA…:erin) as development's AWSAccount copy of the hop out of it, but that is a session
    # name, not evidence
    keys = (scenarios.G3, scenarios.G4, scenarios.G5)

    # Act
    found = [ask(api, queries.LINEAGE, k) for k in keys]
    parent = ask(api, queries.CHILDREN, scenarios.G2)

    # Assert
    assert [f["origin"] for f in found] == [scenarios.DATA_ACCOUNT_WHO.api()] * 3
    assert all(scenarios.G2 not in queries.keys(f["chain"]) for f in found)
    assert parent["childSessions"] == []
