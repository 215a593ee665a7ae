"""Containment: which credentials can still be used now, and the issue time before which a
revocation (an `aws:TokenIssueTime` deny) cuts every one of a role's sessions that can.

The fixture is written at test time relative to the clock (tests/data/attribution/live.py) and
loaded once for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import file_ref
from tests.data.api.harness import Api, Json, open_api
from tests.data.attribution import live, queries
from tests.data.attribution.live import Live
from tests.data.attribution.records import api_time
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory) -> Live:
    return live.write_live(tmp_path_factory.mktemp("live"), datetime.now(UTC))


@pytest.fixture(scope="module")
def api(migrated_store: Store, fixture: Live) -> Iterator[Api]:
    truncate_all(migrated_store)
    results = Loader(migrated_store, retention_days=0).load_many([file_ref(p) for p in fixture.paths])
    assert [r.status for r in results] == [LOADED] * len(results), results
    with open_api(migrated_store) as client:
        yield client


def described(api: Api, key: str) -> Json:
    found = queries.session(api, queries.DESCRIPTION, key)
    assert found is not None, key
    return found


def role(api: Api, arn: str) -> Json:
    found: Json | None = api.data(queries.ROLE_CONTAINMENT, {"arn": arn})["role"]
    assert found is not None, arn
    return found


def test_a_session_expiring_in_the_future_can_still_be_valid(api: Api, fixture: Live) -> None:
    # Act
    found = described(api, live.KEY_LIVE)

    # Assert
    assert found["expiresAt"] == api_time(fixture.minutes(50))
    assert found["canStillBeValid"] is True


def test_an_expired_session_cannot(api: Api, fixture: Live) -> None:
    # Act
    found = described(api, live.KEY_EXPIRED)

    # Assert
    assert found["expiresAt"] == api_time(fixture.minutes(-120))
    assert found["canStillBeValid"] is False


def test_an_unknown_expiry_within_the_longest_lifetime_can_still_be_valid(api: Api) -> None:
    # Act: seen only in calls, created five minutes ago
    found = described(api, live.KEY_RECENT_UNKNOWN)

    # Assert
    assert found["expiresAt"] is None
    assert found["canStillBeValid"] is True


def test_an_unknown_expiry_beyond_every_lifetime_cannot(api: Api) -> None:
    # Act: seen only in calls, created three days ago (no credential lives beyond 36 hours)
    found = described(api, live.KEY_STALE_UNKNOWN)

    # Assert
    assert found["expiresAt"] is None
    assert found["canStillBeValid"] is False


def test_revocation_time_is_one_second_after_the_latest_issue_of_a_session_that_can_still_be_valid(
    api: Api, fixture: Live
) -> None:
    # Act
    found = role(api, live.RESPONDER.arn)

    # Assert: the live session (issued ten minutes ago) and the recent one of unknown expiry
    # (created five minutes ago) can still be used; the later of the two sets the time
    assert found["stillValidSessionCount"] == 2
    assert found["revokeSessionsIssuedBefore"] == api_time(fixture.minutes(-5) + timedelta(seconds=1))


def test_a_role_without_sessions_that_can_still_be_valid_needs_no_revocation(api: Api) -> None:
    # Act
    found = role(api, live.LEGACY.arn)

    # Assert
    assert found["stillValidSessionCount"] == 0
    assert found["revokeSessionsIssuedBefore"] is None
