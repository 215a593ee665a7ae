"""Deviations of sessions against their baselines, on a month whose answers are known
(tests/data/deviations.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.deviations.compute import Limits, session_deviations
from api.deviations.types import BaselineLevel, Deviation, DeviationKind
from clickhouse import rebuild, tables
from clickhouse.client import Store
from ingest import geo
from ingest.load import Loader
from ingest.sources import walk
from tests.data import deviations as data
from tests.data.attribution.records import key

pytestmark = pytest.mark.clickhouse


@pytest.fixture
def month(store: Store, loader: Loader, tmp_path: Path) -> Iterator[Store]:
    geo.configure(data.geolocator())
    try:
        data.write(tmp_path)
        results = loader.load_many(list(walk(tmp_path)))
        assert [(r.records_bad, r.records_loaded > 0) for r in results] == [(0, True)]
        yield store
    finally:
        geo.configure(None)


def _by_kind(found: list[Deviation]) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for d in found:
        kinds.setdefault(str(d.kind), set()).add(d.value)
    return kinds


def test_source_addresses_are_geolocated_at_ingest(month: Store) -> None:
    # Act
    rows = month.rows(
        f"""SELECT DISTINCT source_ip_address, source_location_kind, source_country, source_city, source_asn
        FROM {tables.CLOUDTRAIL_EVENTS} WHERE session_key = {{key:String}} ORDER BY source_ip_address""",
        {"key": data.INSTANCE_STOLEN},
    )
    # Assert: public addresses located; the endpoint's private address, and a service, are not places
    assert [tuple(r) for r in rows] == [
        (data.ENDPOINT_PRIVATE, "vpc_endpoint", "", "", 0),
        (data.ATTACKER, "public", "DE", "Frankfurt am Main", 60729),
        (data.DUBLIN_INSTANCE, "public", "IE", "Dublin", 16509),
        ("cloudformation.amazonaws.com", "aws_service", "", "", 0),
    ]


def test_a_session_from_a_new_country_with_new_apis(month: Store) -> None:
    # Act
    found = session_deviations(month, data.ALICE_NEW)
    # Assert
    kinds = _by_kind(found)
    assert kinds["NEW_API_CALL"] == {"iam:CreateAccessKey", "cloudformation:DescribeStacks"}
    assert kinds["NEW_COUNTRY"] == {"RU"}
    assert kinds["NEW_CITY"] == {"Moscow, RU"}
    assert kinds["NEW_ASN"] == {"25513"}
    assert kinds["NEW_USER_AGENT"] == {data.NEW_AGENT}
    assert kinds["IMPOSSIBLE_TRAVEL"] == {data.MOSCOW}
    assert "VOLUME_SPIKE" not in kinds


def test_each_new_value_carries_its_baselines_and_calls(month: Store) -> None:
    # Act
    found = {(str(d.kind), d.value): d for d in session_deviations(month, data.ALICE_NEW)}
    # Assert: new to alice in the role, known to the role (bob) -> role count > 0
    stacks = found[("NEW_API_CALL", "cloudformation:DescribeStacks")]
    counts = {b.level: b.count for b in stacks.baselines}
    assert counts[BaselineLevel.PRINCIPAL_IN_ROLE] == 0
    assert counts[BaselineLevel.ROLE] == data.HISTORY_DAYS
    assert counts[BaselineLevel.ACCOUNT] == data.HISTORY_DAYS
    # new to everyone: more severe than new to alice only
    created = found[("NEW_API_CALL", "iam:CreateAccessKey")]
    assert all(b.count == 0 for b in created.baselines)
    assert created.severity > stacks.severity
    assert created.first_seen is not None
    assert created.first_seen.date() == data.NEW_DAY.date()
    assert len(created.event_ids) == 1
    assert created.event_ids[0].startswith(data.ACCOUNT + ":")
    # the baselines saw alice's 30 days and her usual session earlier that day; a 45-day window is
    # older than the data loaded: incomplete
    principal = next(b for b in created.baselines if b.level == BaselineLevel.PRINCIPAL_IN_ROLE)
    assert principal.days_observed == data.HISTORY_DAYS + 1
    assert principal.complete is False


def test_a_baseline_as_old_as_its_window_is_complete(month: Store) -> None:
    # Act: a 20-day window lies inside the 30 days loaded
    found = session_deviations(month, data.ALICE_NEW, Limits(window_days=20))
    # Assert
    country = next(d for d in found if d.kind == DeviationKind.NEW_COUNTRY)
    assert {b.level: b.complete for b in country.baselines} == {
        BaselineLevel.PRINCIPAL_IN_ROLE: True, BaselineLevel.ROLE: True, BaselineLevel.ACCOUNT: True
    }  # fmt: skip
    # 20 whole days, plus, in the role, the sessions earlier on the session's own day
    assert {b.level: b.days_observed for b in country.baselines} == {
        BaselineLevel.PRINCIPAL_IN_ROLE: 21, BaselineLevel.ROLE: 21, BaselineLevel.ACCOUNT: 20
    }  # fmt: skip


def test_the_usual_session_has_no_deviation(month: Store) -> None:
    # Act
    found = session_deviations(month, data.ALICE_USUAL)
    # Assert
    assert found == []


def test_a_20x_volume_day_flags_every_session_of_that_day(month: Store) -> None:
    # Act
    spikes = [
        [d for d in session_deviations(month, spike_key) if d.kind == DeviationKind.VOLUME_SPIKE]
        for spike_key in data.CAROL_SPIKE
    ]
    # Assert
    for found in spikes:
        assert [d.value for d in found] == [data.NEW_DAY.date().isoformat()]
        assert found[0].detail is not None
        assert "ratio 20.0" in found[0].detail
    usual = session_deviations(month, key("ASIA", "CAROL29"))
    assert not [d for d in usual if d.kind == DeviationKind.VOLUME_SPIKE]


def test_instance_credentials_used_elsewhere_first(month: Store) -> None:
    # Act
    found = session_deviations(month, data.INSTANCE_STOLEN)
    # Assert: the attacker's address, used before the instance's own; not the endpoint or the service
    off = [d for d in found if d.kind == DeviationKind.CREDENTIALS_OFF_INSTANCE]
    assert [d.value for d in off] == [data.ATTACKER]
    usual = session_deviations(month, key("ASIA", "WEB29"))
    assert not [d for d in usual if d.kind == DeviationKind.CREDENTIALS_OFF_INSTANCE]


def test_rebuild_refills_the_baselines(month: Store) -> None:
    # Arrange
    before = session_deviations(month, data.ALICE_NEW)
    # Act
    rebuild.rebuild(month)
    # Assert
    after = session_deviations(month, data.ALICE_NEW)
    assert _by_kind(after) == _by_kind(before)


def test_rebuild_geolocates_events_loaded_before_geolocation(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: the month loaded with no geolocation database
    geo.configure(None)
    data.write(tmp_path)
    loader.load_many(list(walk(tmp_path)))
    count = f"SELECT countIf(source_country != '') FROM {tables.CLOUDTRAIL_EVENTS} FINAL"
    assert store.scalar(count) == 0
    # Act: a database configured later, then `roletrail rebuild` (addresses first, then the replay)
    data.geolocator().add_stored_addresses(store)
    rebuild.rebuild(store)
    # Assert: every public call is located now, and the baselines know the countries
    assert store.scalar(count) == store.scalar(
        f"SELECT countIf(source_location_kind = 'public') FROM {tables.CLOUDTRAIL_EVENTS} FINAL"
    )
    kinds = _by_kind(session_deviations(store, data.ALICE_NEW))
    assert kinds["NEW_COUNTRY"] == {"RU"}
