"""Who held an interface when, from its ties to instances and its detachments (no engine)."""

from __future__ import annotations

from datetime import UTC, datetime

from api.flowlogs.reads import FOREVER
from api.instances.reads import holders
from api.pagination import EPOCH

A, B = "i-0a", "i-0b"
TIE, CUT = 0, 1


def day(n: int, hour: int = 0) -> datetime:
    return datetime(2024, 6, n, hour, tzinfo=UTC)


def test_an_interface_that_never_moved_is_its_instances_for_all_time() -> None:
    # Act
    spans = holders([(day(3), TIE, A), (day(1), TIE, A), (day(5), TIE, A)])
    # Assert: one open span, the same reads as the bare interface
    assert spans == [(A, EPOCH, FOREVER)]


def test_a_move_ends_the_first_span_at_the_detachment_and_starts_the_next_at_the_attachment() -> None:
    # Act
    spans = holders([(day(1), TIE, A), (day(2, 12), CUT, A), (day(2, 13), TIE, B), (day(3), TIE, B)])
    # Assert
    assert spans == [(A, EPOCH, day(2, 12)), (B, day(2, 13), FOREVER)]


def test_without_a_detachment_the_next_holders_first_tie_ends_the_span() -> None:
    # Act: the interface went to B and back to A (flows' instance-id field, day by day)
    spans = holders([(day(1), TIE, A), (day(2), TIE, B), (day(3), TIE, B), (day(4), TIE, A)])
    # Assert
    assert spans == [(A, EPOCH, day(2)), (B, day(2), day(4)), (A, day(4), FOREVER)]


def test_a_detachment_of_another_holder_changes_nothing() -> None:
    # Act: a late detachment record of A's attachment, after B already holds the interface
    spans = holders([(day(1), TIE, A), (day(2), TIE, B), (day(3), CUT, A)])
    # Assert
    assert spans == [(A, EPOCH, day(2)), (B, day(2), FOREVER)]


def test_an_interface_left_detached_belongs_to_no_one_after() -> None:
    # Act
    spans = holders([(day(1), TIE, A), (day(2), CUT, A)])
    # Assert
    assert spans == [(A, EPOCH, day(2))]
