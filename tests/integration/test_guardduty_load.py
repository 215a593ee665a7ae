"""Loading GuardDuty findings: every shape, newest version wins, bad findings reported, loaded once."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.retention import apply_retention
from ingest.load import DUPLICATE, FAILED, LOADED, PARTIAL, Loader
from ingest.sources import LogType, file_ref
from tests.data.attribution.records import at
from tests.data.guardduty import chain
from tests.integration.test_load import assert_reconciled, ledger_row, load, rejects

pytestmark = pytest.mark.clickhouse


def state(store: Store) -> list[tuple[Any, ...]]:
    """(id, severity, count, archived, last seen) of every finding, as reads see them."""
    return [
        tuple(row)
        for row in store.rows(
            f"""SELECT finding_id, severity, count, archived, last_seen FROM {tables.GUARDDUTY_FINDINGS} FINAL
            ORDER BY finding_id"""
        )
    ]


def stored_rows(store: Store) -> int:
    return int(store.scalar(f"SELECT count() FROM {tables.GUARDDUTY_FINDINGS}") or 0)


def test_every_sample_file_loads_whole(
    loader: Loader, store: Store, samples_dir: Path, tmp_path: Path
) -> None:
    # Arrange: the samples lie outside the AWSLogs layout: recognised by their content
    files = sorted((samples_dir / "guardduty").rglob("*.json"))
    expected_ids: set[str] = set()
    total = 0
    for path in files:
        value = orjson.loads(path.read_bytes())
        found = value if isinstance(value, list) else [value]
        expected_ids |= {f["id"] for f in found}
        total += len(found)
    # Act
    results = [load(loader, path) for path in files]
    # Assert
    for ref, result in results:
        assert (result.status, result.records_bad) == (LOADED, 0), result
        assert ledger_row(store, ref)["log_type"] == LogType.GUARDDUTY
        assert_reconciled(store, ref, result)
    assert sum(r.records_loaded for _, r in results) == total
    assert {row[0] for row in state(store)} == expected_ids


def test_reingesting_an_export_with_updated_findings_leaves_one_finding_with_the_newest_state(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: three exports of the same finding as it is updated; loaded newest first, and twice
    versions = [
        chain.finding_json(updated=at(9, 30), severity=5.0, count=3),
        chain.finding_json(updated=at(10, 30), severity=8.0, count=9, last_seen=at(10, 10)),
        chain.finding_json(updated=at(10, 0), severity=6.0, count=5, last_seen=at(9, 50)),
    ]
    paths = [chain.write_export(tmp_path, [v], f"v{n}") for n, v in enumerate(versions)]
    # Act
    for path in [paths[1], paths[0], paths[2], paths[1]]:
        _, result = load(loader, path)
        assert result.status == LOADED
    # Assert: one finding, the newest version's severity, count and last sighting
    assert state(store) == [(chain.FINDING_ID, 8.0, 9, False, at(10, 10).replace(tzinfo=None))]


def test_versions_of_a_finding_in_one_export_object_keep_the_latest(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: an export object repeating the finding as it was updated (out of order)
    lines = [
        chain.finding_json(updated=at(10, 0), count=5),
        chain.finding_json(updated=at(11, 0), count=7, archived=True),
        chain.finding_json(updated=at(9, 30), count=3),
    ]
    path = chain.write_export(tmp_path, lines, "versions")
    # Act
    _, result = load(loader, path)
    # Assert
    assert (result.records_read, result.records_loaded) == (3, 3)
    assert [(row[2], row[3]) for row in state(store)] == [(7, True)]


def test_loading_the_same_findings_again_adds_nothing(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange
    path = chain.write_export(tmp_path, [chain.finding_json()], "again")
    copy = tmp_path / "copy" / "findings.jsonl.gz"
    copy.parent.mkdir()
    shutil.copy(path, copy)
    # Act
    load(loader, path)
    _, again = load(loader, path)
    _, duplicate = load(loader, copy)
    # Assert: the same object twice is deduplicated; a copy under another name is not loaded
    assert again.status == LOADED
    assert duplicate.status == DUPLICATE
    assert stored_rows(store) == 1


def test_bad_findings_are_counted_and_recorded_and_the_rest_loads(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: an export with a finding without id, one with a text severity and a broken line
    good = chain.finding_json()
    no_id = {k: v for k, v in good.items() if k != "id"}
    body = b"\n".join(
        [
            orjson.dumps(no_id),
            orjson.dumps({**good, "severity": "high"}),
            b'{"schemaVersion": "2.0", "id',
            orjson.dumps(good),
        ]
    )
    path = tmp_path / f"AWSLogs/{chain.DEV}/GuardDuty/us-east-1/2024/06/03/bad.jsonl.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(body))
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        PARTIAL,
        4,
        1,
        3,
    )
    reasons = [r[2] for r in rejects(store, ref)]
    assert [r[1] for r in rejects(store, ref)] == [0, 1, 2]
    assert "no id" in reasons[0]
    assert "severity" in reasons[1]
    assert "JSON" in reasons[2]
    assert_reconciled(store, ref, result)
    assert [row[0] for row in state(store)] == [chain.FINDING_ID]


def test_a_file_of_garbage_in_the_findings_layout_fails_and_says_why(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange
    path = tmp_path / f"AWSLogs/{chain.DEV}/GuardDuty/us-east-1/2024/06/03/text.jsonl"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not JSON\n")
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_bad) == (FAILED, 1)
    assert_reconciled(store, ref, result)


def test_a_get_findings_dump_keeps_archived_findings_archived(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: `aws guardduty get-findings` output, saved among other files
    archived = chain.finding_json(archived=True)
    path = tmp_path / "case" / "findings.json"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps({"Findings": [archived]}, option=orjson.OPT_INDENT_2))
    # Act
    ref, result = load(loader, path)
    # Assert
    assert ref.log_type == LogType.CLOUDTRAIL  # by its name; its content decided
    assert (result.status, result.log_type, result.records_loaded) == (LOADED, LogType.GUARDDUTY, 1)
    assert [row[3] for row in state(store)] == [True]
    assert_reconciled(store, ref, result)


def test_an_eventbridge_dump_of_findings_loads_them_and_counts_other_events(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: an EventBridge archive starting with a finding, with one other event in it
    def envelope(detail_type: str, detail: dict[str, Any]) -> bytes:
        return orjson.dumps(
            {
                "version": "0",
                "id": "1",
                "detail-type": detail_type,
                "source": "aws.guardduty",
                "detail": detail,
            }
        )

    lines = [
        envelope("GuardDuty Finding", chain.finding_json()),
        envelope("AWS Health Event", {"eventTypeCode": "AWS_EC2_MAINTENANCE"}),
    ]
    path = tmp_path / "eventbridge" / "guardduty.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(lines))
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.skipped_items) == (
        LOADED,
        2,
        1,
        1,
    )
    assert "1 eventbridge: AWS Health Event skipped" in result.message
    assert_reconciled(store, ref, result)


def test_findings_older_than_the_retention_are_counted_as_expired(store: Store, tmp_path: Path) -> None:
    # Arrange: a 30-day retention; one finding last seen 40 days ago, one an hour ago
    now = datetime.now(UTC).replace(microsecond=0)
    old = chain.finding_json(updated=now - timedelta(days=40), last_seen=now - timedelta(days=40))
    fresh = {**chain.finding_json(updated=now), "id": "fresh"}
    fresh["service"] = {**fresh["service"], "eventLastSeen": (now - timedelta(hours=1)).isoformat()}
    path = chain.write_export(tmp_path, [old, fresh], "retention")
    # Act
    _ref, result = load(Loader(store, retention_days=30), path)
    # Assert
    assert (result.records_read, result.records_loaded, result.records_expired) == (2, 1, 1)
    assert "30-day retention" in result.message
    assert [row[0] for row in state(store)] == ["fresh"]


def test_a_trail_file_is_still_cloudtrail(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the chain's trail files beside its finding
    written = chain.write(tmp_path)
    # Act
    results = [loader.load(file_ref(path)) for path in written.trails]
    # Assert
    assert {r.log_type for r in results} == {LogType.CLOUDTRAIL}
    assert state(store) == []


def test_lowering_the_retention_drops_findings_last_seen_before_it_at_merge(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: under retention 0, a finding last seen 400 days ago and one seen yesterday
    now = datetime.now(UTC).replace(microsecond=0)
    old = chain.finding_json(updated=now - timedelta(days=399), last_seen=now - timedelta(days=400))
    fresh = {**chain.finding_json(updated=now), "id": "fresh"}
    fresh["service"] = {**fresh["service"], "eventLastSeen": (now - timedelta(days=1)).isoformat()}
    load(loader, chain.write_export(tmp_path, [old, fresh], "ttl"))
    assert stored_rows(store) == 2
    # Act
    apply_retention(store, 30)
    try:
        store.command(f"OPTIMIZE TABLE {tables.GUARDDUTY_FINDINGS} FINAL")
        kept = [row[0] for row in state(store)]
    finally:
        apply_retention(store, 0)
    # Assert
    assert kept == ["fresh"]


@pytest.mark.parametrize("dump_first", [True, False], ids=["dump-first", "export-first"])
def test_an_archived_copy_of_the_same_moment_wins_in_any_order(
    loader: Loader, store: Store, tmp_path: Path, dump_first: bool
) -> None:
    # Arrange: the export's active copy and a GetFindings dump's archived copy, same updatedAt
    export = chain.write_export(tmp_path, [chain.finding_json()], "active")
    dump = tmp_path / "dump" / "get-findings.json"
    dump.parent.mkdir()
    dump.write_bytes(orjson.dumps({"Findings": [chain.finding_json(archived=True)]}))
    # Act
    for path in [dump, export] if dump_first else [export, dump]:
        load(loader, path)
    # Assert
    assert [row[3] for row in state(store)] == [True]


def test_a_truncated_export_object_keeps_the_findings_before_the_break(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: an export object of 200 findings whose gzip stream is cut short
    findings = [{**chain.finding_json(), "id": f"{n:032x}"} for n in range(200)]
    path = chain.write_export(tmp_path, findings, "cut")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    # Act
    ref, result = load(loader, path)
    # Assert: what decoded loaded; the break is reported, never silent
    assert result.status == PARTIAL
    assert 0 < result.records_loaded < 200
    assert any("gzip" in reason for _chunk, _position, reason, _excerpt in rejects(store, ref))
    assert_reconciled(store, ref, result)
    assert len(state(store)) == result.records_loaded
