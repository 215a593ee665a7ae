"""Token scopes, the audit log and automatic persisted queries, on the real app and store."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError
from starlette.testclient import TestClient

from api.app import create_app
from api.persisted import QueryCache
from api.settings import ApiSettings
from clickhouse.client import Store
from tests.data.api.harness import AUTH, TOKEN

pytestmark = pytest.mark.clickhouse

READ_SECRET = "r3ad:with:colons"
ADMIN_SECRET = "adm1n-secret"
TOKENS = (f"viewer:read:{READ_SECRET}", f"ops:admin:{ADMIN_SECRET}", TOKEN)
READ = {"Authorization": f"Bearer {READ_SECRET}"}
ADMIN = {"Authorization": f"Bearer {ADMIN_SECRET}"}
TYPENAME = "query Probe { __typename }"
TYPENAME_SHA = hashlib.sha256(TYPENAME.encode()).hexdigest()


def _client(store: Store, tmp_path: Path) -> TestClient:
    app = create_app(
        ApiSettings(), store, TOKENS, enqueue=lambda paths, who: f"job-of-{who}", source_roots=(tmp_path,)
    )
    return TestClient(app)


def _apq(sha: str) -> dict[str, object]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


# -- scopes ---------------------------------------------------------------------------------------


def test_a_read_token_may_not_ingest(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.post("/admin/ingest", json={"paths": [str(tmp_path)]}, headers=READ)

    # Assert
    assert response.status_code == 403
    assert "admin token" in response.json()["error"]
    assert READ_SECRET not in response.text


def test_a_read_token_may_not_read_jobs(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.get("/admin/jobs/job-1", headers=READ)

    # Assert
    assert response.status_code == 403


def test_a_read_token_may_query(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.post("/graphql", json={"query": "{ __typename }"}, headers=READ)

    # Assert
    assert response.json() == {"data": {"__typename": "Query"}}


def test_an_admin_token_may_ingest_under_its_name(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.post("/admin/ingest", json={"paths": [str(tmp_path)]}, headers=ADMIN)

    # Assert
    assert (response.status_code, response.json()) == (202, {"job_id": "job-of-ops"})


def test_a_plain_token_is_still_an_admin_token(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.post("/admin/ingest", json={"paths": [str(tmp_path)]}, headers=AUTH)

    # Assert: named by its position, as before scopes existed
    assert (response.status_code, response.json()) == (202, {"job_id": "job-of-token-3"})


@pytest.mark.parametrize(
    "entry",
    ["ci:write:secret", "ci:read:", "bad name:read:secret", ":read:secret", "ci:secret"],
    ids=["unknown-scope", "empty-token", "bad-name", "no-name", "two-parts"],
)
def test_a_malformed_token_entry_is_refused_when_settings_are_read(entry: str) -> None:
    # Act
    with pytest.raises(ValidationError) as raised:
        ApiSettings(api_tokens=f"good-token,{entry}")

    # Assert: the entry is named by position; no token text appears
    message = str(raised.value)
    assert "API token entry 2" in message
    assert "secret" not in message
    assert "good-token" not in message


def test_a_token_name_given_twice_is_refused() -> None:
    # Act / Assert
    with pytest.raises(ValidationError, match="unique"):
        ApiSettings(api_tokens="ci:read:one,ci:admin:two")


def test_token_entries_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Arrange
    monkeypatch.setenv("ROLETRAIL_API_TOKENS", f"viewer:read:{READ_SECRET}, {TOKEN}")

    # Act
    settings = ApiSettings()

    # Assert: the token may hold colons; settings never show tokens
    assert settings.api_tokens == (f"viewer:read:{READ_SECRET}", TOKEN)
    assert READ_SECRET not in repr(settings)


# -- audit log ------------------------------------------------------------------------------------


def test_the_audit_line_names_token_path_and_operation_but_never_the_token(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="roletrail.audit")

    # Act
    with _client(store, tmp_path) as http:
        http.post("/graphql", json={"query": TYPENAME, "operationName": "Probe"}, headers=READ)

    # Assert
    lines = [r.getMessage() for r in caplog.records if r.name == "roletrail.audit"]
    assert len(lines) == 1, lines
    assert "token=viewer" in lines[0]
    assert "path=/graphql" in lines[0]
    assert "operation=Probe" in lines[0]
    assert READ_SECRET not in caplog.text


def test_refused_requests_are_audited_without_the_presented_token(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="roletrail.audit")

    # Act
    with _client(store, tmp_path) as http:
        http.post("/admin/ingest", json={"paths": ["/"]}, headers=READ)
        http.post("/graphql", json={"query": TYPENAME}, headers={"Authorization": "Bearer guessed-token"})

    # Assert
    lines = [r.getMessage() for r in caplog.records if r.name == "roletrail.audit"]
    assert len(lines) == 2, lines
    assert "token=viewer" in lines[0]
    assert "status=403" in lines[0]
    assert "token=-" in lines[1]
    assert "status=401" in lines[1]
    assert READ_SECRET not in caplog.text
    assert "guessed-token" not in caplog.text


def test_a_forged_operation_name_does_not_reach_the_audit_log(
    store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange
    caplog.set_level(logging.INFO, logger="roletrail.audit")
    forged = "X\nrequest=fake token=ops"

    # Act
    with _client(store, tmp_path) as http:
        http.post("/graphql", json={"query": "{ __typename }", "operationName": forged}, headers=READ)

    # Assert
    assert "request=fake" not in caplog.text


# -- automatic persisted queries ------------------------------------------------------------------


def test_an_unknown_hash_asks_for_the_query(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        response = http.post("/graphql", json={"extensions": _apq(TYPENAME_SHA)}, headers=READ)

    # Assert
    error = response.json()["errors"][0]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


def test_a_registered_query_runs_by_hash_over_post(store: Store, tmp_path: Path) -> None:
    # Arrange
    with _client(store, tmp_path) as http:
        http.post("/graphql", json={"query": TYPENAME, "extensions": _apq(TYPENAME_SHA)}, headers=READ)

        # Act
        response = http.post("/graphql", json={"extensions": _apq(TYPENAME_SHA)}, headers=READ)

    # Assert
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_registered_query_runs_by_hash_over_get(store: Store, tmp_path: Path) -> None:
    # Arrange
    with _client(store, tmp_path) as http:
        http.post("/graphql", json={"query": TYPENAME, "extensions": _apq(TYPENAME_SHA)}, headers=READ)

        # Act
        params = {"extensions": orjson.dumps(_apq(TYPENAME_SHA)).decode(), "variables": "{}"}
        response = http.get("/graphql", params=params, headers=READ)

    # Assert
    assert response.json() == {"data": {"__typename": "Query"}}


def test_a_query_registered_over_get_runs_by_hash(store: Store, tmp_path: Path) -> None:
    # Arrange
    extensions = orjson.dumps(_apq(TYPENAME_SHA)).decode()
    with _client(store, tmp_path) as http:
        first = http.get("/graphql", params={"query": TYPENAME, "extensions": extensions}, headers=READ)

        # Act
        second = http.get("/graphql", params={"extensions": extensions}, headers=READ)

    # Assert
    assert first.json() == second.json() == {"data": {"__typename": "Query"}}


def test_a_hash_that_does_not_match_its_query_is_refused(store: Store, tmp_path: Path) -> None:
    # Arrange
    wrong = hashlib.sha256(b"{ other }").hexdigest()

    # Act
    with _client(store, tmp_path) as http:
        refused = http.post("/graphql", json={"query": TYPENAME, "extensions": _apq(wrong)}, headers=READ)
        later = http.post("/graphql", json={"extensions": _apq(wrong)}, headers=READ)

    # Assert: refused, and nothing was stored under the wrong hash
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["message"] == "provided sha does not match query"
    assert later.json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_persisted_queries_live_in_the_app_memory_only(store: Store, tmp_path: Path) -> None:
    # Arrange: registered on one app
    with _client(store, tmp_path) as http:
        http.post("/graphql", json={"query": TYPENAME, "extensions": _apq(TYPENAME_SHA)}, headers=READ)

    # Act: a fresh app (a restarted server) does not know it
    with _client(store, tmp_path) as http:
        response = http.post("/graphql", json={"extensions": _apq(TYPENAME_SHA)}, headers=READ)

    # Assert
    assert response.json()["errors"][0]["message"] == "PersistedQueryNotFound"


def test_the_query_cache_drops_the_least_recently_used() -> None:
    # Arrange
    cache = QueryCache(max_entries=2)
    cache.put("a", "{ a }")
    cache.put("b", "{ b }")
    cache.get("a")

    # Act
    cache.put("c", "{ c }")

    # Assert
    assert (cache.get("a"), cache.get("b"), cache.get("c"), len(cache)) == ("{ a }", None, "{ c }", 2)


def test_requests_without_persisted_queries_pass_unchanged(store: Store, tmp_path: Path) -> None:
    # Act
    with _client(store, tmp_path) as http:
        bad_json = http.post(
            "/graphql", content=b"{nope", headers={**READ, "Content-Type": "application/json"}
        )
        plain_get = http.get("/graphql", params={"query": "{ __typename }"}, headers=READ)

    # Assert: GraphQL's own answers
    assert bad_json.status_code == 400
    assert plain_get.json() == {"data": {"__typename": "Query"}}
