"""The export endpoint on the real app and store: every call of a credential, streamed.

Reads the invented trail of tests/data/api, loaded once for the module (no test here writes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from urllib.parse import quote

import orjson
import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.export import COLUMNS, csv_cell
from api.settings import ApiSettings
from clickhouse.client import Store
from ingest.load import Loader
from tests.data.api import trail
from tests.data.api.harness import AUTH, TOKEN, Api, Json, load, open_api, session, walk_calls
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

READ_SECRET = "export-reader-secret"
READ = {"Authorization": f"Bearer {READ_SECRET}"}


@pytest.fixture(scope="module")
def loaded(migrated_store: Store) -> Store:
    """The store holding the whole invented trail, loaded once for the module."""
    truncate_all(migrated_store)
    load(Loader(migrated_store, retention_days=0), trail.paths())
    return migrated_store


@pytest.fixture(scope="module")
def api(loaded: Store) -> Iterator[Api]:
    with open_api(loaded) as client:
        yield client


def _url(key: str) -> str:
    return f"/export/sessions/{key}/calls"


def _lines(text: str) -> list[Json]:
    return [orjson.loads(line) for line in text.splitlines()]


def test_jsonl_has_one_line_per_call_of_the_session(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C), params={"format": "jsonl"}, headers=AUTH)

    # Assert
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    lines = _lines(response.text)
    assert len(lines) == session(api, trail.KEY_C)["apiCallCount"]
    assert all(list(line) == list(COLUMNS) for line in lines)


def test_jsonl_lists_the_calls_oldest_first_as_graphql_does(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_B), headers=AUTH)

    # Assert
    exported = [(line["event_time"], line["event_id"]) for line in _lines(response.text)]
    expected = [(call["eventTime"], call["eventId"]) for call in walk_calls(api, trail.KEY_B, first=50)]
    assert exported == expected


def test_csv_has_a_header_and_one_row_per_call(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C), params={"format": "csv"}, headers=AUTH)

    # Assert
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == list(COLUMNS)
    assert len(rows) - 1 == session(api, trail.KEY_C)["apiCallCount"]
    jsonl = _lines(api.http.get(_url(trail.KEY_C), headers=AUTH).text)
    assert [row[1] for row in rows[1:]] == [line["event_id"] for line in jsonl]


def test_raw_adds_the_stored_record(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C), params={"raw": "1"}, headers=AUTH)

    # Assert
    lines = _lines(response.text)
    assert lines
    assert all(line["raw"]["eventID"] == line["event_id"] for line in lines)


def test_without_raw_there_is_no_raw_record(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C), headers=AUTH)

    # Assert
    assert all("raw" not in line for line in _lines(response.text))


def test_from_and_to_narrow_the_export(api: Api) -> None:
    # Arrange
    every = _lines(api.http.get(_url(trail.KEY_C), headers=AUTH).text)
    second = every[1]["event_time"]

    # Act
    response = api.http.get(
        _url(trail.KEY_C), params={"from": second, "to": "2024-05-02T00:00:00Z"}, headers=AUTH
    )

    # Assert
    assert _lines(response.text) == [line for line in every if line["event_time"] >= second]


def test_small_pages_export_every_call_once_in_order(loaded: Store, api: Api) -> None:
    # Arrange: one call per store read, so the export walks the keyset pages
    expected = _lines(api.http.get(_url(trail.KEY_C), headers=AUTH).text)
    app = create_app(ApiSettings(export_page_size=1), loaded, (TOKEN,))

    # Act
    with TestClient(app) as http:
        response = http.get(_url(trail.KEY_C), headers=AUTH)

    # Assert
    assert _lines(response.text) == expected
    assert len(expected) > 1


def test_a_read_token_may_export(loaded: Store) -> None:
    # Arrange
    app = create_app(ApiSettings(), loaded, (f"viewer:read:{READ_SECRET}",))

    # Act
    with TestClient(app) as http:
        response = http.get(_url(trail.KEY_C), headers=READ)

    # Assert
    assert response.status_code == 200
    assert _lines(response.text)


def test_an_unknown_session_exports_nothing(api: Api) -> None:
    # Act
    response = api.http.get(_url("ASIANOSUCHKEY0000000"), params={"format": "csv"}, headers=AUTH)

    # Assert
    assert (response.status_code, response.text.splitlines()) == (200, [",".join(COLUMNS)])


@pytest.mark.parametrize(
    "params",
    [
        {"format": "xml"},
        {"from": "yesterday"},
        {"to": "2024-13-01"},
        {"from": "2024-05-02T00:00:00Z", "to": "2024-05-01T00:00:00Z"},
        {"from": "1900-01-01T00:00:00Z"},
    ],
    ids=["format", "from", "to", "from-after-to", "out-of-range"],
)
def test_bad_parameters_get_400(api: Api, params: dict[str, str]) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C), params=params, headers=AUTH)

    # Assert
    assert response.status_code == 400
    assert response.json()["error"]


def test_export_needs_a_token(api: Api) -> None:
    # Act
    response = api.http.get(_url(trail.KEY_C))

    # Assert
    assert response.status_code == 401


def test_csv_cells_cannot_become_spreadsheet_formulas() -> None:
    # Act
    cells = [csv_cell(v) for v in ("=HYPERLINK(1)", "+1", "-1", "@SUM(1)", "aws-cli/2", "")]

    # Assert
    assert cells == ["'=HYPERLINK(1)", "'+1", "'-1", "'@SUM(1)", "aws-cli/2", ""]


# -- a principal's export -------------------------------------------------------------------------


def _principal_url(kind: str, identifier: str) -> str:
    return f"/export/principals/{kind}/{quote(identifier, safe='')}/calls"


def test_a_principals_export_has_every_call_of_its_chains_as_graphql_lists_them(api: Api) -> None:
    # Arrange
    query = (
        "query ($id: String!) { principal(kind: IAM_USER, identifier: $id) "
        "{ apiCalls(first: 500) { edges { node { eventTime eventId } } } } }"
    )
    listed = api.data(query, {"id": trail.ALICE_ARN})["principal"]["apiCalls"]["edges"]

    # Act
    response = api.http.get(_principal_url("IAM_USER", trail.ALICE_ARN), headers=AUTH)

    # Assert
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    exported = [(line["event_time"], line["event_id"]) for line in _lines(response.text)]
    assert exported == [(e["node"]["eventTime"], e["node"]["eventId"]) for e in listed]
    assert len(exported) == trail.EXPECTED_CALLS[trail.KEY_B] + trail.EXPECTED_CALLS[trail.KEY_C]


def test_a_principals_export_as_csv_by_bare_name_and_lowercase_kind(api: Api) -> None:
    # Act: the identifier an ARN with slashes left unencoded, the kind in lower case
    by_arn = api.http.get(f"/export/principals/IAM_USER/{trail.ALICE_ARN}/calls?format=csv", headers=AUTH)
    by_name = api.http.get(_principal_url("iam_user", "alice") + "?format=csv", headers=AUTH)

    # Assert
    assert by_arn.status_code == by_name.status_code == 200
    rows = list(csv.reader(io.StringIO(by_arn.text)))
    assert rows[0] == list(COLUMNS)
    assert by_name.text == by_arn.text
    assert "alice-calls.csv" in by_arn.headers["content-disposition"]


def test_an_unknown_principal_is_404_and_a_bad_kind_400(api: Api) -> None:
    # Act
    unknown = api.http.get(_principal_url("IAM_USER", "arn:aws:iam::111111111111:user/nobody"), headers=AUTH)
    bad_kind = api.http.get(_principal_url("ROBOT", trail.ALICE_ARN), headers=AUTH)
    bad_scope = api.http.get(_principal_url("IAM_USER", trail.ALICE_ARN) + "?from=yesterday", headers=AUTH)

    # Assert
    assert (unknown.status_code, unknown.json()) == (404, {"error": "no such principal"})
    assert bad_kind.status_code == 400
    assert bad_kind.json()["error"].startswith("`kind` must be one of IAM_USER, ROOT")
    assert bad_scope.status_code == 400


def test_a_principals_export_streams_in_pages(loaded: Store, api: Api) -> None:
    # Arrange
    expected = api.http.get(_principal_url("EC2_INSTANCE", trail.INSTANCE), headers=AUTH).text
    app = create_app(ApiSettings(export_page_size=1), loaded, (TOKEN,))

    # Act
    with TestClient(app) as http:
        response = http.get(_principal_url("EC2_INSTANCE", trail.INSTANCE), headers=AUTH)

    # Assert
    assert response.text == expected
    assert len(_lines(expected)) == trail.EXPECTED_CALLS[trail.KEY_EC2]
