"""API answers that depend on what was loaded: reloads, partial trails, long chains, long sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from clickhouse.client import Store
from ingest.load import Loader
from ingest.sources import file_ref
from tests.data.api import trail
from tests.data.api.harness import Api, keys_of, load, open_api, session, sessions_page

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def empty_api(store: Store) -> Iterator[Api]:
    """The app on an empty store; the test loads what it needs."""
    with open_api(store) as client:
        yield client


def test_records_loaded_twice_or_in_another_order_change_nothing(store: Store, loader: Loader) -> None:
    # Arrange: the trail without the organisation copy, then everything again in reverse order
    load(loader, trail.paths(trail.ACCOUNT_A, trail.ACCOUNT_B, trail.ACCOUNT_C))
    with open_api(store) as api:
        before = {key: session(api, key) for key in trail.ALL_KEYS}

        # Act
        for path in reversed(trail.paths()):
            loader.load(file_ref(path))
        after = {key: session(api, key) for key in trail.ALL_KEYS}

    # Assert
    assert after == before
    assert {k: s["apiCallCount"] for k, s in after.items()} == trail.EXPECTED_CALLS


def test_only_the_role_owners_copy_gives_the_caller_account_and_a_gap(store: Store, loader: Loader) -> None:
    # Arrange: account C alone; B, where KEY_B made the call, is not ingested
    load(loader, trail.paths(trail.ACCOUNT_C))

    # Act
    with open_api(store) as api:
        found = session(api, trail.KEY_C)

    # Assert
    assert found["chain"] == []
    assert found["origin"] == {
        "kind": "AWS_ACCOUNT",
        "identifier": trail.ACCOUNT_B,
        "displayName": f"account {trail.ACCOUNT_B}",
    }
    assert found["chainGap"] == {
        "accountId": trail.ACCOUNT_B,
        "roleArn": None,
        "principalId": f"{trail.DEPLOYER_ID}:alice",
        "time": "2024-05-01T09:05:00+00:00",
    }


def test_chain_lists_every_ancestor_nearest_first(store: Store, loader: Loader, tmp_path: Path) -> None:
    # Arrange: alice -> Hop0 -> Hop1 -> Hop2 -> Hop3
    load(loader, [trail.write_trail(tmp_path / "chain.json.gz", trail.chains(1, 4))])
    leaf, *ancestors = [f"ASIABULK000000L{level:02d}".ljust(20, "0") for level in (3, 2, 1, 0)]

    # Act
    with open_api(store) as api:
        found = session(api, leaf)

    # Assert
    assert [s["accessKeyId"] for s in found["chain"]] == ancestors
    assert found["origin"]["identifier"] == trail.ALICE_ARN
    assert found["chainGap"] is None


def test_a_listed_session_reads_as_the_whole_session(empty_api: Api, loader: Loader, tmp_path: Path) -> None:
    # Arrange: one session active over two days
    key = "ASIATWODAYS000000001"
    role = ("arn:aws:iam::222222222222:role/Night", "AROANIGHT00000000001", "night")
    first_day = trail.DAY.replace(hour=23)
    identity = trail.role_identity(key, *role, first_day)
    records = [
        trail.record("two-days-1", first_day, identity, account=trail.ACCOUNT_B),
        trail.record("two-days-2", first_day + timedelta(hours=2), identity, account=trail.ACCOUNT_B),
    ]
    load(loader, [trail.write_trail(tmp_path / "two-days.json.gz", records)])

    # Act: a window that covers only the second day
    page = sessions_page(empty_api, **{"from": "2024-05-02T00:00:00Z", "to": "2024-05-03T00:00:00Z"})
    alone = session(empty_api, key)

    # Assert
    assert page["edges"][0]["node"] == {
        "accessKeyId": key,
        "apiCallCount": alone["apiCallCount"],
        "firstSeen": alone["firstSeen"],
    }
    assert alone["apiCallCount"] == 2


def test_now_is_the_default_end_of_the_scope(empty_api: Api, loader: Loader, tmp_path: Path) -> None:
    # Arrange: a session from an hour ago
    key = "ASIARECENT0000000001"
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    identity = trail.role_identity(key, trail.ANALYST_ARN, trail.ANALYST_ID, "recent", when)
    load(
        loader,
        [
            trail.write_trail(
                tmp_path / "recent.json.gz",
                [trail.record("recent-1", when, identity, account=trail.ACCOUNT_B)],
            )
        ],
    )

    # Act
    page = empty_api.data("{ sessions { edges { node { accessKeyId } } } }")["sessions"]

    # Assert
    assert keys_of(page) == [key]
