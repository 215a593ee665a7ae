"""Loading CloudTrail objects into the real engine: sessions, idempotence, bad input and the ledger.

Fixture files are written by the tests themselves into tmp_path with the AWS delivery layout
(`AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/`), or read from tests/data (our own small
invented trail) and, when present, from the third-party samples beside the repository.
"""

from __future__ import annotations

import gzip
import json
import random
import shutil
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from clickhouse import tables
from clickhouse.client import Store
from ingest.load import DUPLICATE, FAILED, LOADED, PARTIAL, SKIPPED, Loader, LoadResult
from ingest.sources import ObjectRef, file_ref, walk

pytestmark = pytest.mark.clickhouse

ACCOUNT = "111122223333"
REGION = "eu-west-1"
HEAD = b'{"Records":['

# -- invented records and files ------------------------------------------------------------------


def call(
    n: int,
    *,
    key: str = "ASIAEXAMPLECALLER001",
    when: str = "2024-03-05T10:00:00Z",
    account: str = ACCOUNT,
    name: str = "GetObject",
    **extra: Any,
) -> dict[str, Any]:
    """A call made with temporary credentials `key`, in S3 delivery key order."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLEROLE00001:analyst",
            "arn": f"arn:aws:sts::{account}:assumed-role/Analyst/analyst",
            "accountId": account,
            "accessKeyId": key,
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLEROLE00001",
                    "arn": f"arn:aws:iam::{account}:role/Analyst",
                    "accountId": account,
                    "userName": "Analyst",
                },
                "attributes": {"creationDate": "2024-03-05T09:00:00Z", "mfaAuthenticated": "false"},
            },
        },
        "eventTime": when,
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.24",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"bucketName": "example-evidence", "key": f"object-{n}"},
        "responseElements": None,
        "requestID": f"5e0c7a52-0000-4000-8000-{n:012d}",
        "eventID": f"e7a1c3f0-2222-4000-9000-{n:012d}",
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": False,
        "recipientAccountId": account,
        "eventCategory": "Data",
    }
    record.update(extra)
    return record


def compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def trail_path(
    root: Path,
    name: str,
    *,
    account: str = ACCOUNT,
    region: str = REGION,
    day: date = date(2024, 3, 5),
    org: str = "",
) -> Path:
    prefix = root / "AWSLogs" / org if org else root / "AWSLogs"
    folder = prefix / account / "CloudTrail" / region / f"{day:%Y/%m/%d}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{account}_CloudTrail_{region}_{day:%Y%m%d}T1000Z_{name}.json.gz"


def write(path: Path, data: bytes, *, compress: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if compress else data)
    return path


def write_trail(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    return write(path, compact({"Records": list(records)}))


# -- reading the outcome -------------------------------------------------------------------------

Session = tuple[int, int, datetime, datetime, tuple[str, ...]]


def sessions(store: Store) -> dict[str, Session]:
    """Every session in the rollup: calls, errors, first and last seen, APIs."""
    rows = store.rows(
        f"""SELECT session_key, uniqExactMerge(calls), uniqExactMerge(errors),
            min(first_seen), max(last_seen),
            arraySort(groupUniqArrayMerge(apis))
        FROM {tables.CLOUDTRAIL_SESSIONS} GROUP BY session_key ORDER BY session_key"""
    )
    return {str(r[0]): (int(r[1]), int(r[2]), r[3], r[4], tuple(r[5])) for r in rows}


def session_calls(store: Store) -> dict[str, int]:
    return {key: value[0] for key, value in sessions(store).items()}


def events(store: Store) -> int:
    return int(store.scalar(f"SELECT count() FROM {tables.CLOUDTRAIL_EVENTS} FINAL") or 0)


Reject = tuple[int, int, str, str]


def rejects(store: Store, ref: ObjectRef) -> list[Reject]:
    """The rejects of one object: (chunk, position, reason, excerpt)."""
    rows = store.rows(
        f"""SELECT chunk, position, reason, excerpt FROM {tables.INGEST_REJECTS}
        WHERE startsWith(object_id, concat({{oid:String}}, ':')) ORDER BY chunk, position, reason""",
        {"oid": ref.object_id},
    )
    return [(int(c), int(p), str(r), str(e)) for c, p, r, e in rows]


def ledger_row(store: Store, ref: ObjectRef) -> dict[str, Any]:
    columns = (
        "status",
        "records_read",
        "records_loaded",
        "records_bad",
        "records_expired",
        "message",
        "log_type",
    )
    rows = store.rows(
        f"SELECT {', '.join(columns)} FROM {tables.INGEST_OBJECTS} FINAL WHERE object_id = {{oid:String}}",
        {"oid": ref.object_id},
    )
    assert len(rows) == 1, f"one ledger row expected for {ref.uri}, found {len(rows)}"
    return dict(zip(columns, rows[0], strict=True))


def assert_reconciled(store: Store, ref: ObjectRef, result: LoadResult) -> None:
    """The ledger says what the result says, and read = loaded + bad + expired + skipped items."""
    row = ledger_row(store, ref)
    assert (
        row["status"],
        row["records_read"],
        row["records_loaded"],
        row["records_bad"],
        row["records_expired"],
    ) == (
        result.status,
        result.records_read,
        result.records_loaded,
        result.records_bad,
        result.records_expired,
    )
    assert result.records_read == (
        result.records_loaded + result.records_bad + result.records_expired + result.skipped_items
    ), result
    assert len(rejects(store, ref)) == result.records_bad


def load(loader: Loader, path: Path) -> tuple[ObjectRef, LoadResult]:
    ref = file_ref(path)
    return ref, loader.load(ref)


def expected_calls(records: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Calls per temporary access key, counted independently: distinct (recipient account, eventID)."""
    seen: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for record in records:
        key = (record.get("userIdentity") or {}).get("accessKeyId") or ""
        if key.startswith("ASIA"):
            seen[key].add((record["recipientAccountId"], record["eventID"]))
    return {key: len(ids) for key, ids in seen.items()}


def records_in(path: Path) -> list[dict[str, Any]]:
    """The records of a file we trust to be valid: a gzipped Records file or a JSON array."""
    data = path.read_bytes()
    value = json.loads(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    return list(value["Records"] if isinstance(value, dict) else value)


# -- (a) third-party samples: Stratus Red Team detonations -----------------------------------------


@pytest.fixture
def stratus_dir(samples_dir: Path) -> Path:
    path = samples_dir / "cloudtrail" / "stratus-red-team"
    if not path.is_dir():
        pytest.skip(f"{path} not found")
    return path


def test_stratus_samples_load_into_sessions_with_exact_call_counts(
    loader: Loader, store: Store, stratus_dir: Path
) -> None:
    # Arrange: keys minted by AssumeRole/GetFederationToken and used by later calls, counted in Python
    refs = list(walk(stratus_dir))
    records = [r for ref in refs for r in records_in(Path(ref.uri))]
    minted = {
        ((r.get("responseElements") or {}).get("credentials") or {}).get("accessKeyId")
        for r in records
        if r["eventName"] in ("AssumeRole", "GetFederationToken") and not r.get("errorCode")
    }
    calls = expected_calls(records)
    expected = {key: calls[key] for key in minted if key in calls}
    assert len(expected) >= 2
    # Act
    results = loader.load_many(list(refs))
    # Assert: every file and record loaded, every used minted key a session with its exact call count
    assert {r.status for r in results} == {LOADED}
    assert events(store) == sum(r.records_loaded for r in results) == len(records)
    found = session_calls(store)
    assert {key: found.get(key) for key in expected} == expected


# -- (b) order-free and idempotent ---------------------------------------------------------------


@pytest.fixture
def incident_dir(data_dir: Path) -> Path:
    """Our own small invented trail: account and organisation trail copies, a digest, a flow log."""
    return data_dir / "cloudtrail"


def test_incident_fixture_sessions_have_exact_counts(
    loader: Loader, store: Store, incident_dir: Path
) -> None:
    # Arrange: the CloudTrail files of the fixture, counted independently
    trail_files = [Path(r.uri) for r in walk(incident_dir) if "/CloudTrail/" in r.uri]
    expected = expected_calls(r for path in trail_files for r in records_in(path))
    # Act
    results = loader.load_many(list(walk(incident_dir)))
    # Assert
    assert (
        session_calls(store)
        == expected
        == {
            "ASIADEVALICE00000001": 4,
            "ASIAPRODALICE0000001": 3,
            "ASIAWEBSERVER0000001": 2,
        }
    )
    assert sessions(store)["ASIADEVALICE00000001"][1] == 1  # one AccessDenied
    # The three trail files and the flow log load; the digest is skipped.
    assert sorted(r.status for r in results) == [LOADED, LOADED, LOADED, LOADED, SKIPPED]


def test_loading_twice_changes_nothing(loader: Loader, store: Store, incident_dir: Path) -> None:
    # Arrange
    refs = list(walk(incident_dir))
    loader.load_many(list(refs))
    once = (sessions(store), events(store))
    # Act
    again = loader.load_many(list(refs))
    # Assert: same sessions and events, and the ledger still tells the first load's counts
    assert (sessions(store), events(store)) == once
    for ref, result in zip(refs, again, strict=True):
        assert_reconciled(store, ref, result)
    assert sum(r.records_loaded for r in again) == 8 + 3 + 8 + 2  # + the flow log's two records


def test_load_order_does_not_change_sessions(
    loader: Loader, store: Store, incident_dir: Path, truncate_store: Callable[[], None]
) -> None:
    # Arrange: the same files in walk order, reversed and shuffled, each into an empty store
    refs = list(walk(incident_dir))
    shuffled = refs[:]
    random.Random(20240305).shuffle(shuffled)
    outcomes = []
    # Act
    for order in (refs, refs[::-1], shuffled):
        truncate_store()
        loader.load_many(list(order))
        outcomes.append((sessions(store), events(store)))
    # Assert
    assert outcomes[0][0]
    assert outcomes[1] == outcomes[0]
    assert outcomes[2] == outcomes[0]


# -- (c) the same record in two files ------------------------------------------------------------


def test_org_and_account_trail_copies_count_once(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the organisation trail has calls 1-10; the account trail has the same ten and three more
    records = [call(n, when=f"2024-03-05T10:{n:02d}:00Z") for n in range(1, 14)]
    org = write_trail(trail_path(tmp_path, "org", org="o-exampleorg1"), records[:10])
    own = write_trail(trail_path(tmp_path, "own"), list(reversed(records)))
    # Act
    results = [load(loader, org)[1], load(loader, own)[1]]
    # Assert: both objects read in full, every record counted once
    assert [(r.status, r.records_loaded) for r in results] == [(LOADED, 10), (LOADED, 13)]
    assert session_calls(store) == {"ASIAEXAMPLECALLER001": 13}
    assert events(store) == 13


# -- (d) bad input: every object is accounted for ------------------------------------------------


GOOD = [call(n, when=f"2024-03-05T11:{n:02d}:00Z") for n in range(1, 6)]


def test_a_corrupt_gzip_fails_with_a_reject(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: a gzip header followed by bytes that are no deflate stream
    path = write(
        trail_path(tmp_path, "corrupt"),
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + b"\xff" * 200,
        compress=False,
    )
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_bad) == (FAILED, 1, 1)
    assert "corrupt gzip stream" in result.message
    [(chunk, position, reason, _excerpt)] = rejects(store, ref)
    assert (chunk, position) == (0, 0)
    assert reason.startswith("corrupt gzip stream")
    assert reason.endswith("after 210 stored bytes")
    assert_reconciled(store, ref, result)


def _damaged_trail(records: Sequence[dict[str, Any]]) -> bytes:
    """A gzip member holding the start of a Records array with `records`, then a broken deflate block."""
    intact = HEAD + b",".join(compact(r) for r in records) + b","
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    return compressor.compress(intact) + compressor.flush(zlib.Z_FULL_FLUSH) + b"\xff" * 16


def test_records_before_gzip_damage_in_a_large_file_still_load(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: 400 records of random padding (about 100 KiB stored), then a broken deflate block
    rng = random.Random(400)
    records = [call(n, requestParameters={"pad": rng.randbytes(200).hex()}) for n in range(400)]
    path = write(trail_path(tmp_path, "damaged"), _damaged_trail(records), compress=False)
    # Act
    ref, result = load(loader, path)
    # Assert: the records read before the damage load; the damage is reported
    assert result.status == PARTIAL
    assert 0 < result.records_loaded < 400
    assert events(store) == result.records_loaded
    assert any(reason.startswith("corrupt gzip stream") for _c, _p, reason, _e in rejects(store, ref))
    assert_reconciled(store, ref, result)


def test_records_before_gzip_damage_in_a_small_file_still_load(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: 400 ordinary records (about 7 KiB stored), then a broken deflate block
    records = [call(n) for n in range(400)]
    path = write(trail_path(tmp_path, "damaged"), _damaged_trail(records), compress=False)
    # Act
    ref, result = load(loader, path)
    # Assert: most records load; the damage is reported
    assert result.status == PARTIAL
    assert result.records_loaded >= 300
    assert any(reason.startswith("corrupt gzip stream") for _c, _p, reason, _e in rejects(store, ref))


def test_a_truncated_gzip_keeps_the_records_it_holds(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the last third of the stored object is missing
    records = [call(n, requestParameters={"pad": f"{n:x}" * 300}) for n in range(60)]
    stored = gzip.compress(compact({"Records": records}))
    path = write(trail_path(tmp_path, "cut"), stored[: len(stored) * 2 // 3], compress=False)
    # Act
    ref, result = load(loader, path)
    # Assert: partial, the complete records loaded, the cut reported twice (stream and record)
    assert result.status == PARTIAL
    assert 20 <= result.records_loaded < 60
    assert events(store) == result.records_loaded
    reasons = sorted(reason.split(" after ")[0] for _c, _p, reason, _e in rejects(store, ref))
    assert reasons == ["gzip stream ends early (truncated file)", "truncated record"]
    assert_reconciled(store, ref, result)


def test_a_file_that_is_not_json_fails_with_its_head_as_excerpt(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: an HTML error page saved under a trail file's name
    path = write(trail_path(tmp_path, "html"), b"<html><body>503 Slow Down</body></html>\n")
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        FAILED,
        1,
        0,
        1,
    )
    assert rejects(store, ref) == [
        (0, 0, "not JSON: not a CloudTrail log file", "<html><body>503 Slow Down</body></html>\n")
    ]
    assert_reconciled(store, ref, result)


def test_a_truncated_last_record_loses_only_itself(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the uncompressed trail file ends inside its fifth record
    data = compact({"Records": GOOD})
    cut = data[: data.rindex(b'"eventName"')]
    path = write(trail_path(tmp_path, "lastcut"), cut)
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        PARTIAL,
        5,
        4,
        1,
    )
    assert "file ends inside its Records array" in result.message
    [(_chunk, position, reason, excerpt)] = rejects(store, ref)
    assert (position, reason) == (4, "truncated record")
    assert excerpt.startswith(compact(GOOD[4])[:40].decode())
    assert session_calls(store) == {"ASIAEXAMPLECALLER001": 4}
    assert_reconciled(store, ref, result)


def test_a_broken_record_in_a_trail_file_loses_only_itself(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: the third of five records is not valid JSON
    texts = [compact(r) for r in GOOD]
    texts[2] = texts[2].replace(b'"eventName":', b'"eventName" ', 1)
    path = write(trail_path(tmp_path, "midbad"), HEAD + b",".join(texts) + b"]}")
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        PARTIAL,
        5,
        4,
        1,
    )
    [(chunk, position, reason, excerpt)] = rejects(store, ref)
    assert (chunk, position, reason) == (0, 2, "not valid JSON")
    assert excerpt == texts[2].decode()
    assert_reconciled(store, ref, result)


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        pytest.param({"eventTime": "yesterday-ish"}, "no valid eventTime", id="bad-time"),
        pytest.param(
            {"eventID": "", "eventName": ""}, "not a CloudTrail record: no eventID or eventName", id="no-id"
        ),
    ],
)
def test_a_record_the_engine_rejects_is_reported_with_its_position(
    loader: Loader, store: Store, tmp_path: Path, broken: dict[str, str], reason: str
) -> None:
    # Arrange: valid JSON, but the fourth record cannot be a CloudTrail event
    records = [dict(r) for r in GOOD]
    records[3].update(broken)
    path = write_trail(trail_path(tmp_path, "semantic"), records)
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_loaded, result.records_bad) == (PARTIAL, 4, 1)
    assert [(c, p, r) for c, p, r, _e in rejects(store, ref)] == [(0, 3, reason)]
    assert_reconciled(store, ref, result)


def test_rejects_in_one_json_export_have_distinct_true_positions(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a JSON array: good, broken JSON, bad eventTime
    items = [
        compact(GOOD[0]),
        b'{"eventVersion":"1.09" "eventID":"x"}',
        compact({**GOOD[2], "eventTime": "never"}),
    ]
    path = write(trail_path(tmp_path, "positions"), b"[" + b",".join(items) + b"]")
    # Act
    ref, _result = load(loader, path)
    # Assert
    assert sorted((c, p) for c, p, _r, _e in rejects(store, ref)) == [(0, 1), (0, 2)]


def test_a_vpc_flow_log_goes_to_the_flow_log_loader(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: a flow log in its own delivery folder
    folder = tmp_path / "AWSLogs" / ACCOUNT / "vpcflowlogs" / REGION / "2024" / "03" / "05"
    name = f"{ACCOUNT}_vpcflowlogs_{REGION}_fl-0a1b2c3d_20240305T1000Z_5f3c2a1b.log.gz"
    header = (
        b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end"
    )
    line = b"2 111122223333 eni-0a1b2c3d 10.0.0.5 198.51.100.7 40000 443 6 3 900 1709632800 1709632860"
    path = write(folder / name, header + b" action log-status\n" + line + b" ACCEPT OK\n")
    # Act
    ref, result = load(loader, path)
    # Assert: loaded as flows, not as CloudTrail events
    assert (result.status, result.records_read, result.records_loaded) == (LOADED, 1, 1)
    assert ledger_row(store, ref)["log_type"] == "vpcflowlogs"
    assert events(store) == 0
    assert_reconciled(store, ref, result)


def test_a_json_object_that_is_no_trail_fails(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: some other service's JSON under a trail file's name
    path = write(
        trail_path(tmp_path, "config"), b'{"configurationItems": [{"resourceType": "AWS::S3::Bucket"}]}'
    )
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_bad) == (FAILED, 1, 1)
    assert [r for _c, _p, r, _e in rejects(store, ref)] == [
        "not a CloudTrail record: no eventID or eventName"
    ]
    assert_reconciled(store, ref, result)


DIGEST = compact(
    {
        "awsAccountId": ACCOUNT,
        "digestStartTime": "2024-03-05T10:00:00Z",
        "digestEndTime": "2024-03-05T11:00:00Z",
        "logFiles": [],
    }
)


def test_a_digest_file_in_its_folder_is_skipped(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange
    folder = tmp_path / "AWSLogs" / ACCOUNT / "CloudTrail-Digest" / REGION / "2024" / "03" / "05"
    path = write(
        folder / f"{ACCOUNT}_CloudTrail-Digest_{REGION}_trail_{REGION}_20240305T110000Z.json.gz", DIGEST
    )
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_bad) == (SKIPPED, 0, 0)
    assert "cloudtrail-digest" in result.message
    assert_reconciled(store, ref, result)


def test_a_digest_file_among_trail_files_is_skipped(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: a digest copied into a trail folder under a trail file name
    path = write(trail_path(tmp_path, "digest"), DIGEST)
    # Act
    ref, result = load(loader, path)
    # Assert: counted as one skipped item, not as bad
    assert (result.status, result.records_read, result.records_bad, result.skipped_items) == (
        SKIPPED,
        1,
        0,
        1,
    )
    assert "cloudtrail-digest skipped" in result.message
    assert_reconciled(store, ref, result)


def test_a_byte_identical_copy_is_a_duplicate(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: the same object delivered to two places
    first = write_trail(trail_path(tmp_path, "first"), GOOD)
    second = trail_path(tmp_path, "first", region="eu-central-1")
    shutil.copyfile(first, second)
    load(loader, first)
    # Act
    ref, result = load(loader, second)
    # Assert
    assert (result.status, result.records_read, result.records_loaded) == (DUPLICATE, 0, 0)
    assert f"same content as {first}" in result.message
    assert session_calls(store) == {"ASIAEXAMPLECALLER001": 5}
    assert_reconciled(store, ref, result)


def test_a_byte_identical_copy_of_a_json_export_is_a_duplicate(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a JSON array export saved twice
    first = write(tmp_path / "exports" / "lookup-events.json", json.dumps(GOOD).encode(), compress=False)
    second = tmp_path / "exports" / "lookup-events (1).json"
    shutil.copyfile(first, second)
    load(loader, first)
    # Act
    _ref, result = load(loader, second)
    # Assert
    assert result.status == DUPLICATE


def test_an_object_sharing_chunks_with_another_counts_all_its_records(store: Store, tmp_path: Path) -> None:
    # Arrange: an export of 40 records, then a re-export of the same 40 and 40 more, in small chunks
    loader = Loader(store, retention_days=0, chunk_bytes=8192)
    records = [call(n) for n in range(80)]
    load(loader, write_trail(trail_path(tmp_path, "first40"), records[:40]))
    # Act
    _ref, result = load(loader, write_trail(trail_path(tmp_path, "all80"), records))
    # Assert
    assert (result.records_read, result.records_loaded) == (80, 80)


@pytest.mark.parametrize(
    "stored",
    [pytest.param(b"", id="zero-bytes"), pytest.param(gzip.compress(b"", mtime=0), id="empty-gzip")],
)
def test_an_empty_file_loads_nothing_and_reports_nothing_bad(
    loader: Loader, store: Store, tmp_path: Path, stored: bytes
) -> None:
    # Arrange
    path = write(trail_path(tmp_path, "empty"), stored, compress=False)
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_bad) == (LOADED, 0, 0)
    assert_reconciled(store, ref, result)


def test_an_eventbridge_export_loads_its_cloudtrail_events_and_skips_findings(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: JSON lines from an EventBridge archive: two CloudTrail events and a GuardDuty finding
    def envelope(detail_type: str, detail: dict[str, Any]) -> bytes:
        return compact(
            {"version": "0", "id": "1", "detail-type": detail_type, "source": "aws", "detail": detail}
        )

    lines = [
        envelope("AWS API Call via CloudTrail", GOOD[0]),
        envelope("GuardDuty Finding", {"schemaVersion": "2.0", "severity": 5}),
        envelope("AWS API Call via CloudTrail", GOOD[1]),
    ]
    path = write(tmp_path / "eventbridge" / "archive.jsonl.gz", b"\n".join(lines))
    # Act
    ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_read, result.records_loaded, result.skipped_items) == (
        LOADED,
        3,
        2,
        1,
    )
    assert "1 guardduty-finding skipped" in result.message
    assert session_calls(store) == {"ASIAEXAMPLECALLER001": 2}
    assert_reconciled(store, ref, result)


def test_every_object_of_a_messy_folder_reconciles(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: good, damaged and foreign objects side by side
    write_trail(trail_path(tmp_path, "good"), GOOD)
    write(trail_path(tmp_path, "cut"), compact({"Records": [call(n) for n in range(20, 25)]})[:-80])
    write(trail_path(tmp_path, "text"), b"hello\n")
    write(trail_path(tmp_path, "obj"), b'{"hello":"world"}')
    write(trail_path(tmp_path, "digest"), DIGEST)
    write(trail_path(tmp_path, "empty"), b"", compress=False)
    write(
        tmp_path / "lines.jsonl",
        b"\n".join(compact(call(n, key="ASIAEXAMPLELINES0001")) for n in range(90, 93)),
    )
    write(tmp_path / "notes.txt", b"case notes", compress=False)
    refs = list(walk(tmp_path))
    # Act
    results = loader.load_many(list(refs))
    # Assert: each ledger row balances, and every good record is stored
    for ref, result in zip(refs, results, strict=True):
        assert_reconciled(store, ref, result)
    assert events(store) == sum(r.records_loaded for r in results) == 5 + 4 + 3


# -- (e) long exports, (f) big objects -------------------------------------------------------------


def test_an_export_spanning_fourteen_months_loads(loader: Loader, store: Store, tmp_path: Path) -> None:
    # Arrange: one record in each month from January 2023 to February 2024
    months = [date(2023 + m // 12, m % 12 + 1, 15) for m in range(14)]
    records = [call(n, when=f"{day:%Y-%m-%d}T12:00:00Z") for n, day in enumerate(months)]
    path = write(tmp_path / "exports" / "year.json", json.dumps(records).encode(), compress=False)
    # Act
    _ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_loaded) == (LOADED, 14)
    assert (result.first_event, result.last_event) == (
        datetime(2023, 1, 15, 12, tzinfo=UTC),
        datetime(2024, 2, 15, 12, tzinfo=UTC),
    )
    partitions = store.scalar(
        """SELECT uniqExact(partition) FROM system.parts
        WHERE database = {db:String} AND table = {table:String} AND active""",
        {"db": store.database, "table": tables.CLOUDTRAIL_EVENTS},
    )
    assert partitions == 14


def test_an_export_spanning_more_than_a_hundred_months_loads(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a backfill of nine years, one record a month
    months = [date(2015 + m // 12, m % 12 + 1, 1) for m in range(108)]
    records = [call(n, when=f"{day:%Y-%m-%d}T00:00:00Z") for n, day in enumerate(months)]
    path = write(tmp_path / "exports" / "backfill.json", json.dumps(records).encode(), compress=False)
    # Act
    _ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_loaded) == (LOADED, 108)


def _big_records(size: int) -> tuple[list[dict[str, Any]], int]:
    """About `size` bytes of compact records of 7 sessions, and the length of one record."""
    pad = "p" * 1500
    one = len(compact(call(0, requestParameters={"pad": pad})))
    records = [
        call(
            n,
            key=f"ASIAEXAMPLEBIG{n % 7:06d}",
            when=f"2024-03-05T{n // 3600 % 24:02d}:{n // 60 % 60:02d}:{n % 60:02d}Z",
            requestParameters={"pad": pad},
        )
        for n in range(size // one + 1)
    ]
    return records, one


def _write_big(root: Path, records: list[dict[str, Any]]) -> Path:
    path = trail_path(root, "big")
    path.write_bytes(gzip.compress(compact({"Records": records}), compresslevel=1, mtime=0))
    return path


@pytest.mark.slow
def test_a_50_mb_object_loads_in_bounded_chunks_with_exact_counts(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arrange: 50 MB of records, three of them bad, loaded in 1 MiB chunks; every insert's size recorded
    records, one = _big_records(50 * 1024 * 1024)
    bad = (10, len(records) // 2, len(records) - 5)
    for index in bad:
        records[index]["eventTime"] = "not a time"
    path = _write_big(tmp_path, records)
    chunk_bytes = 1 << 20
    sizes: list[int] = []
    raw_insert = store.raw_insert

    def recording(table: str, columns: Sequence[str], data: bytes, fmt: str, settings: Any) -> int:
        sizes.append(len(data))
        return raw_insert(table, columns, data, fmt, settings)

    monkeypatch.setattr(store, "raw_insert", recording)
    loader = Loader(store, retention_days=0, chunk_bytes=chunk_bytes)
    good = [r for i, r in enumerate(records) if i not in bad]
    # Act
    ref, result = load(loader, path)
    # Assert: many bounded inserts, exact counts, each bad record reported with its own text
    assert len(sizes) >= 50
    assert max(sizes) <= chunk_bytes + one
    assert (result.status, result.records_read, result.records_loaded, result.records_bad) == (
        PARTIAL,
        len(records),
        len(records) - 3,
        3,
    )
    assert session_calls(store) == expected_calls(good)
    excerpts = sorted(excerpt for _c, _p, _r, excerpt in rejects(store, ref))
    assert excerpts == sorted(compact(records[i])[:1024].decode() for i in bad)
    assert_reconciled(store, ref, result)


def test_a_12_mb_trail_file_loads_with_the_default_chunk_size(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a valid trail file larger than ClickHouse's parallel-parsing segment
    records, _one = _big_records(12 * 1024 * 1024)
    path = _write_big(tmp_path, records)
    # Act
    _ref, result = load(loader, path)
    # Assert
    assert (result.status, result.records_loaded) == (LOADED, len(records))


# -- (g) third-party samples: AWS documentation examples ------------------------------------------


def test_aws_documentation_examples_load_and_invalid_ones_are_reported(
    loader: Loader, store: Store, samples_dir: Path
) -> None:
    # Arrange: 45 one-record files (two invalid JSON as published) and a provenance note
    folder = samples_dir / "cloudtrail" / "aws-docs-examples"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    refs = list(walk(folder))
    # Act
    results = {Path(ref.uri).name: loader.load(ref) for ref in refs}
    # Assert: the invalid files are failed with one bad record each; nothing else is bad but the PARTIAL one
    invalid = {name for name in results if "INVALIDJSON" in name}
    assert len(invalid) == 2
    assert {name: (results[name].status, results[name].records_bad) for name in invalid} == dict.fromkeys(
        invalid, (FAILED, 1)
    )
    bad = {name for name, result in results.items() if result.records_bad}
    assert bad - invalid == {name for name in results if "-PARTIAL-" in name}
    assert results["SOURCES.md"].status == SKIPPED
    for ref in refs:
        assert_reconciled(store, ref, results[Path(ref.uri).name])
    assert events(store) == sum(r.records_loaded for r in results.values()) >= 40


def test_batched_small_files_are_each_credited_with_their_own_records(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a small demo organisation (hundreds of small files, loaded in batches)
    from ingest.demo import write_demo

    summary = write_demo(tmp_path / "demo", events=3000, days=2, end=datetime(2026, 11, 1, tzinfo=UTC))
    refs = list(walk(tmp_path / "demo" / "AWSLogs"))
    expected = {ref.object_id: len(records_in(Path(ref.uri))) for ref in refs if ref.uri.endswith(".json.gz")
                and "CloudTrail-Digest" not in ref.uri}  # fmt: skip
    # Act
    results = loader.load_many(refs)
    # Assert: every object's ledger row counts exactly its own records, and nothing is unaccounted
    got = {r.object_id: r.records_loaded for r in results if r.object_id in expected}
    assert got == expected
    assert sum(expected.values()) == summary.events
    assert not [r.message for r in results if "reconciliation" in r.message]


def test_small_files_whose_records_do_not_start_with_event_version_are_credited_exactly(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: exports with sorted keys (eventVersion not first): record boundaries cannot be counted
    paths = []
    for n in range(3):
        records = [call(n * 10 + i, key=f"ASIASORTEDKEYS{n:06d}") for i in range(n + 2)]
        data = json.dumps({"Records": records}, sort_keys=True, separators=(",", ":")).encode()
        paths.append(write(trail_path(tmp_path, f"sorted{n}"), data))
    # Act
    results = loader.load_many([file_ref(path) for path in paths])
    # Assert: each object is credited with its own records, with no reconciliation problem
    assert [r.records_loaded for r in results] == [2, 3, 4]
    assert not [r.message for r in results if "reconciliation" in r.message]
    assert session_calls(store) == {f"ASIASORTEDKEYS{n:06d}": n + 2 for n in range(3)}
