"""The HTTP side of the API: bearer tokens, public pages, request ids, error masking."""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from api.app import REQUEST_ID_HEADER, create_app
from api.errors import INTERNAL_MESSAGE
from api.settings import ApiSettings
from clickhouse.client import Store
from tests.conftest import TEST_DATABASE
from tests.data.api import trail
from tests.data.api.harness import AUTH, SESSION, TOKEN, open_api

pytestmark = pytest.mark.clickhouse


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"bearer {TOKEN}"},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": "Bearer "},
    ],
    ids=["none", "empty", "no-scheme", "basic", "lowercase-scheme", "wrong", "longer", "blank-token"],
)
def test_requests_without_a_valid_bearer_token_get_401(store: Store, headers: dict[str, str]) -> None:
    # Arrange
    app = create_app(ApiSettings(), store, (TOKEN,))

    # Act
    with TestClient(app) as http:
        post = http.post("/graphql", json={"query": "{ __typename }"}, headers=headers)
        get = http.get("/graphql", params={"query": "{ __typename }"}, headers=headers)
        ingest = http.post("/admin/ingest", json={"paths": ["/"]}, headers=headers)

    # Assert
    for response in (post, get, ingest):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.json() == {"error": "missing or invalid bearer token"}


def test_health_and_graphiql_are_public(store: Store) -> None:
    # Arrange
    app = create_app(ApiSettings(), store, (TOKEN,))

    # Act
    with TestClient(app) as http:
        health = http.get("/health")
        graphiql = http.get("/graphiql")
        authorized = http.post("/graphql", json={"query": "{ __typename }"}, headers=AUTH)

    # Assert
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    assert graphiql.status_code == 200
    assert authorized.json() == {"data": {"__typename": "Query"}}


def test_admin_ingest_refuses_a_body_that_is_not_json(store: Store) -> None:
    # Arrange
    app = create_app(ApiSettings(), store, (TOKEN,), enqueue=lambda paths, who: "job-1")

    # Act
    with TestClient(app) as http:
        response = http.post("/admin/ingest", content=b"{not json", headers=AUTH)

    # Assert
    assert response.status_code == 400


def test_unexpected_errors_are_masked_logged_and_carry_a_request_id(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # Arrange: a store whose database does not exist: every read fails inside ClickHouse
    broken = Store(store.settings, database=f"{TEST_DATABASE}_missing")
    app = create_app(ApiSettings(), broken, (TOKEN,))
    caplog.set_level(logging.ERROR, logger="api.errors")

    # Act
    try:
        with TestClient(app) as http:
            response = http.post(
                "/graphql", json={"query": SESSION, "variables": {"key": trail.KEY_C}}, headers=AUTH
            )
    finally:
        broken.close()

    # Assert: the client learns nothing of the internals, but gets the id the log line has
    body = response.json()
    error = body["errors"][0]
    request_id = response.headers[REQUEST_ID_HEADER]
    assert error["message"] == INTERNAL_MESSAGE
    assert error["extensions"] == {"code": "INTERNAL", "requestId": request_id}
    text = response.text
    for secret in ("DB::Exception", "Code:", "_missing", "UNKNOWN_DATABASE", "Traceback", "cloudtrail_"):
        assert secret not in text
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged, caplog.text
    assert "UNKNOWN_DATABASE" in caplog.text


def test_every_response_names_its_request(store: Store) -> None:
    # Act
    with open_api(store) as api:
        first = api.http.post("/graphql", json={"query": "{ __typename }"}, headers=AUTH)
        second = api.http.post("/graphql", json={"query": "{ __typename }"}, headers=AUTH)

    # Assert
    assert first.headers[REQUEST_ID_HEADER] != second.headers[REQUEST_ID_HEADER]


def test_health_says_so_when_the_store_does_not_answer(store: Store) -> None:
    # Arrange
    broken = Store(store.settings, database=f"{TEST_DATABASE}_missing")
    app = create_app(ApiSettings(), broken, (TOKEN,))

    # Act
    try:
        with TestClient(app) as http:
            response = http.get("/health")
    finally:
        broken.close()

    # Assert
    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
