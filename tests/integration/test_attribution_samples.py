"""Attribution on real third-party records (../shared/samples/cloudtrail; skipped when absent): a
console "Switch role" across two accounts (David Xiao's blog), AWS's own cross-account AssumeRole
pair, and Stratus Red Team's anonymised attack detonations.

Expectations are read from the raw records here, not from the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Api, Json, open_api
from tests.data.attribution import make, queries
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

Record = dict[str, Any]

SWITCH_ROLE_USER = "arn:aws:iam::203016562928:user/bob@example.com"
SWITCH_ROLE_CONSOLE_KEY = "ASIAS6RF25DXQR3PH2AX"  # bob's console session in the source account
SWITCH_ROLE_MINTED_KEY = "ASIA3JUODO7WTIO2PI64"  # what AssumeRole returned
SWITCH_ROLE_USED_KEY = "ASIA3JUODO7W6YEVI655"  # what the console signed CreateUser with
CROSS_ACCOUNT_CALLER = "arn:aws:iam::777788889999:user/JohnDoe"
CROSS_ACCOUNT_ROLE = "arn:aws:iam::111122223333:role/EC2-dev"
# AWS's example puts an AKIA-style placeholder where the minted key goes.
CROSS_ACCOUNT_KEY = "AKIAQRSTUVWXYZEXAMPLE"


def read_json_records(path: Path) -> list[Record]:
    value = json.loads(path.read_text(encoding="utf-8"))
    records: list[Record] = value if isinstance(value, list) else value.get("Records", [value])
    return records


@pytest.fixture(scope="module")
def samples(samples_dir: Path) -> dict[str, list[Record]]:
    docs = samples_dir / "cloudtrail" / "aws-docs-examples"
    stratus = samples_dir / "cloudtrail" / "stratus-red-team"
    if not docs.is_dir() or not stratus.is_dir():
        pytest.skip(f"{docs} or {stratus} is absent")
    sets = {
        "switch-role": sorted(docs.glob("blog-dxiao-consoleswitchrole-*.json")),
        "cross-account": sorted(docs.glob("awsdocs-iam-ug-2023-AssumeRole-crossaccount-*.json")),
        "stratus": sorted(stratus.glob("*.json")),
    }
    assert [len(sets["switch-role"]), len(sets["cross-account"])] == [4, 2]
    return {name: [r for p in files for r in read_json_records(p)] for name, files in sets.items()}


@pytest.fixture(scope="module")
def api(
    migrated_store: Store, samples: dict[str, list[Record]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """Each set as one trail file outside any AWSLogs layout (the records name their accounts)."""
    truncate_all(migrated_store)
    root = tmp_path_factory.mktemp("samples")
    paths = [make.write_trail(root / f"{name}.json.gz", records) for name, records in samples.items()]
    results = Loader(migrated_store, retention_days=0).load_many([file_ref(p) for p in paths])
    assert [r.status for r in results] == [LOADED] * len(results), results
    with open_api(migrated_store) as client:
        yield client


def lineage(api: Api, key: str) -> Json:
    found = queries.session(api, queries.LINEAGE, key)
    assert found is not None, key
    return found


def minted(records: list[Record]) -> dict[str, Record]:
    """Successful minting records by the key they minted."""
    out = {}
    for item in records:
        response = item.get("responseElements")
        if (
            isinstance(response, dict)
            and isinstance(response.get("credentials"), dict)
            and not item.get("errorCode")
        ):
            out[response["credentials"]["accessKeyId"]] = item
    return out


# -- console Switch role across two accounts -------------------------------------------------------


def test_a_switched_role_console_key_resolves_to_the_iam_user(api: Api) -> None:
    # Act: the key CreateUser was signed with was never in any response; principal id and creation
    # date lead to the AssumeRole the console made with bob's console session
    found = lineage(api, SWITCH_ROLE_USED_KEY)

    # Assert
    assert found["origin"] == {"kind": "IAM_USER", "identifier": SWITCH_ROLE_USER}
    assert queries.keys(found["chain"])[-1:] == [SWITCH_ROLE_CONSOLE_KEY]
    assert found["chainGap"] is None


def test_the_key_the_console_assumed_resolves_to_the_iam_user(api: Api) -> None:
    # Act: minted once, logged in both accounts (the target's copy knows bob only as AWSAccount)
    found = lineage(api, SWITCH_ROLE_MINTED_KEY)

    # Assert
    assert found["origin"] == {"kind": "IAM_USER", "identifier": SWITCH_ROLE_USER}
    assert queries.keys(found["chain"]) == [SWITCH_ROLE_CONSOLE_KEY]


# -- AWS's cross-account AssumeRole pair ------------------------------------------------------------


def test_the_cross_account_pair_is_one_issuance_with_the_callers_identity(api: Api) -> None:
    # Act
    found = queries.session(api, queries.QUESTION_KEY, CROSS_ACCOUNT_KEY)
    role: Json | None = api.data(queries.QUESTION_ROLE, {"arn": CROSS_ACCOUNT_ROLE})["role"]

    # Assert
    assert found is not None
    assert (found["origin"]["kind"], found["origin"]["identifier"]) == ("IAM_USER", CROSS_ACCOUNT_CALLER)
    assert (found["credentialKind"], found["chain"], found["chainGap"]) == ("AssumeRole", [], None)
    assert (found["sourceIdentity"], found["sourceIdentityDisagrees"]) == ("JohnDoe", False)
    assert role is not None
    assert role["sessionCount"] == 1
    assert [(o["kind"], o["identifier"]) for o in role["origins"]] == [("IAM_USER", CROSS_ACCOUNT_CALLER)]


# -- Stratus Red Team --------------------------------------------------------------------------------


def test_stratus_keys_minted_with_assume_role_lead_to_their_iam_user(
    api: Api, samples: dict[str, list[Record]]
) -> None:
    # Arrange
    assumed = {k: r for k, r in minted(samples["stratus"]).items() if r["eventName"] == "AssumeRole"}
    assert len(assumed) >= 8

    # Act
    found = {key: lineage(api, key) for key in assumed}

    # Assert
    for key, item in assumed.items():
        assert found[key]["origin"] == {"kind": "IAM_USER", "identifier": item["userIdentity"]["arn"]}, key
        assert (found[key]["chain"], found[key]["chainGap"]) == ([], None), key


def test_stratus_federation_token_leads_to_the_iam_user_and_names_its_federated_user(
    api: Api, samples: dict[str, list[Record]]
) -> None:
    # Arrange
    tokens = {k: r for k, r in minted(samples["stratus"]).items() if r["eventName"] == "GetFederationToken"}
    assert len(tokens) == 1

    # Act
    found = {key: queries.session(api, queries.BROKERED, key) for key in tokens}

    # Assert
    for key, item in tokens.items():
        broker = {"kind": "IAM_USER", "identifier": item["userIdentity"]["arn"]}
        assert found[key] == {
            "origin": broker,
            "federatedUser": {
                "kind": "FEDERATION_TOKEN_USER",
                "identifier": item["responseElements"]["federatedUser"]["arn"],
                "brokeredBy": broker,
            },
        }, key
