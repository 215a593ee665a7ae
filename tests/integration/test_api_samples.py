"""The API on third-party records: Stratus Red Team's real, anonymised attack detonations.

Expectations are computed here from the raw records (not from the store), so the API is checked
against an independent reading: every temporary key's calls, errors and minting record.
Skipped when ../shared/samples is absent (a fresh clone).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api.harness import Api, load, open_api, session, sessions_page, walk_calls
from tests.data.api.trail import write_trail
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

EVERYTHING = {"from": "1970-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z"}


@dataclass
class Expected:
    calls: set[tuple[str, str]] = field(default_factory=set)
    errors: set[tuple[str, str]] = field(default_factory=set)
    minted_by: dict[str, Any] | None = None
    kind: str = ""


@dataclass
class Samples:
    records: list[dict[str, Any]]
    keys: dict[str, Expected]


def read_samples(folder: Path) -> Samples:
    keys: dict[str, Expected] = defaultdict(Expected)
    records: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        records += json.loads(path.read_text(encoding="utf-8"))
    for record in records:
        identity = record.get("userIdentity") or {}
        key = identity.get("accessKeyId") or ""
        identity_id = (record.get("recipientAccountId") or "", record["eventID"])
        if key.startswith("ASIA"):
            keys[key].calls.add(identity_id)
            if record.get("errorCode"):
                keys[key].errors.add(identity_id)
        credentials = (record.get("responseElements") or {}).get("credentials")
        if isinstance(credentials, dict) and not record.get("errorCode"):
            minted = keys[credentials["accessKeyId"]]
            minted.minted_by, minted.kind = identity, record["eventName"]
    return Samples(records, dict(keys))


@pytest.fixture(scope="module")
def samples(samples_dir: Path) -> Samples:
    folder = samples_dir / "cloudtrail" / "stratus-red-team"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    return read_samples(folder)


@pytest.fixture(scope="module")
def api(migrated_store: Store, samples: Samples, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """Every detonation record, loaded once; the tests only read.

    The records go in as one trail file: reading each file's JSON-array shape is the ingest
    tests' business, and one object loads in a fraction of the time of 35.
    """
    truncate_all(migrated_store)
    path = write_trail(tmp_path_factory.mktemp("stratus") / "stratus.json.gz", samples.records)
    load(Loader(migrated_store, retention_days=0), [path])
    with open_api(migrated_store) as client:
        yield client


def test_every_temporary_key_is_a_session_with_exact_counts(api: Api, samples: Samples) -> None:
    # Act
    found = {key: session(api, key) for key in samples.keys}

    # Assert
    for key, expected in samples.keys.items():
        assert found[key] is not None, key
        assert found[key]["apiCallCount"] == len(expected.calls), key
        assert found[key]["errorCount"] == len(expected.errors), key


def test_walking_a_sessions_calls_yields_its_records_once(api: Api, samples: Samples) -> None:
    # Act / Assert
    for key, expected in samples.keys.items():
        nodes = walk_calls(api, key, 7)
        assert {(n["recipientAccountId"], n["eventId"]) for n in nodes} == expected.calls, key
        assert len(nodes) == len(expected.calls), key


def test_minted_keys_lead_to_the_iam_user_that_minted_them(api: Api, samples: Samples) -> None:
    # Arrange
    minted = {key: expected for key, expected in samples.keys.items() if expected.minted_by}
    assert minted, "the detonations mint credentials with AssumeRole and GetFederationToken"

    # Act
    found = {key: session(api, key) for key in minted}

    # Assert
    for key, expected in minted.items():
        assert expected.minted_by is not None
        assert found[key]["credentialKind"] == expected.kind, key
        assert found[key]["origin"]["kind"] == "IAM_USER", key
        assert found[key]["origin"]["identifier"] == expected.minted_by["arn"], key
        assert found[key]["chainGap"] is None, key


def test_role_sessions_without_a_minting_record_show_a_gap(api: Api, samples: Samples) -> None:
    # Arrange: e.g. the instance credentials stolen in ec2-steal-instance-credentials
    orphans = [key for key, expected in samples.keys.items() if expected.minted_by is None]
    assert orphans

    # Act
    found = {key: session(api, key) for key in orphans}

    # Assert
    for key in orphans:
        assert found[key]["origin"] is None, key
        assert found[key]["chainGap"] is not None, key


def test_the_listing_holds_every_session_once(api: Api, samples: Samples) -> None:
    # Act
    listed: list[str] = []
    after = None
    while True:
        page = sessions_page(api, **EVERYTHING, first=5, after=after)
        listed += [edge["node"]["accessKeyId"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    # Assert: keys minted but never used have no activity, so no place in a listing of activity
    used = {key for key, expected in samples.keys.items() if expected.calls}
    assert sorted(listed) == sorted(used)
