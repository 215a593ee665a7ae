"""The pure parts of deviations: travel between places and the volume of a day (no engine)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from api.deviations.compute import Limits, _travel, _volume
from api.deviations.reads import DayRow, Stop

T0 = datetime(2024, 5, 1, 8, 0)
LONDON = ("81.2.69.10", 51.5085, -0.1257)
MOSCOW = ("95.165.30.44", 55.7522, 37.6156)
PARIS = ("89.2.0.1", 48.8534, 2.3488)


def stop(place: tuple[str, float, float], minute: int, *, own: bool = True) -> Stop:
    when = T0 + timedelta(minutes=minute)
    return Stop(when, when, place[0], own, f"111:{place[0]}:{minute}", "XX", "", place[1], place[2])


def test_a_hop_faster_than_a_plane_is_impossible_travel() -> None:
    # Act: London -> Moscow (2,500 km) in 30 minutes
    found = _travel([stop(LONDON, 0, own=False), stop(MOSCOW, 30)], Limits())
    # Assert
    assert [(d.value, d.severity) for d in found] == [(MOSCOW[0], 0.9)]
    assert found[0].event_ids == [f"111:{LONDON[0]}:0", f"111:{MOSCOW[0]}:30"]


def test_a_slow_or_short_hop_is_not() -> None:
    # London -> Moscow in 4 hours (625 km/h); London -> Paris (340 km, under the 500 km floor) in 1 minute
    assert _travel([stop(LONDON, 0), stop(MOSCOW, 240)], Limits()) == []
    assert _travel([stop(LONDON, 0), stop(PARIS, 1)], Limits()) == []


def test_a_hop_into_another_session_is_not_this_sessions() -> None:
    assert _travel([stop(LONDON, 0), stop(MOSCOW, 5, own=False)], Limits()) == []


def test_two_addresses_that_keep_alternating_count_less() -> None:
    # Act: London, Moscow, London, Moscow... a minute apart (a VPN beside a direct link)
    stops = [stop(LONDON if i % 2 == 0 else MOSCOW, i) for i in range(6)]
    found = _travel(stops, Limits())
    # Assert: both addresses reported once each, at the lower severity
    assert sorted((d.value, d.severity) for d in found) == [(LONDON[0], 0.5), (MOSCOW[0], 0.5)]


def _days(calls: dict[int, int]) -> list[DayRow]:
    empty: dict[str, frozenset[str]] = {}
    return [DayRow(date(2024, 4, 1) + timedelta(days=d), True, True, n, empty) for d, n in calls.items()]


def test_a_day_far_above_the_usual_is_a_spike_and_a_usual_day_is_not() -> None:
    # Arrange: 10 calls a day for 10 days, then 200 on day 10
    rows = _days({**{d: 10 + d % 2 for d in range(10)}, 10: 200})
    start = datetime(2024, 4, 11, 9, tzinfo=UTC)
    # Act
    spike = _volume(rows, start, start, start - timedelta(days=45), True, Limits())
    usual = _volume(_days({d: 10 + d % 2 for d in range(11)}), start, start, start, True, Limits())
    # Assert
    assert [d.value for d in spike] == ["2024-04-11"]
    assert usual == []


def test_no_spike_without_enough_history() -> None:
    rows = _days({0: 10, 1: 10, 2: 500})
    start = datetime(2024, 4, 3, 9, tzinfo=UTC)
    assert _volume(rows, start, start, start, False, Limits()) == []
