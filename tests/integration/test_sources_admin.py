"""Admin endpoints for S3 sources and backfills, through the Starlette app."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from starlette.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from api.sources_admin import source_routes
from clickhouse.client import Store
from tests.data.api.harness import AUTH, TOKEN

pytestmark = pytest.mark.clickhouse

READ_AUTH = {"Authorization": f"Bearer {TOKEN}-read"}


def _client(store: Store, retention_days: int = 30) -> TestClient:
    tokens = (TOKEN, f"reader:read:{TOKEN}-read")
    return TestClient(
        create_app(ApiSettings(), store, tokens, extra_routes=source_routes(store, retention_days))
    )


def test_a_source_is_added_listed_and_deleted(store: Store) -> None:
    # Arrange
    body = {"bucket": "acme-org-trail", "prefix": "AWSLogs/o-a1b2c3d4e5/", "queue_url": "https://sqs/q"}
    with _client(store) as http:
        # Act
        put = http.put("/admin/sources/org", json=body, headers=AUTH)
        listed = http.get("/admin/sources", headers=AUTH).json()
        deleted = http.delete("/admin/sources/org", headers=AUTH)
        after = http.get("/admin/sources", headers=AUTH).json()
    # Assert
    assert put.status_code == 200
    assert [(s["name"], s["bucket"], s["prefix"], s["origin"]) for s in listed["sources"]] == [
        ("org", "acme-org-trail", "AWSLogs/o-a1b2c3d4e5/", "api")
    ]
    assert deleted.status_code == 204
    assert after == {"sources": []}


def test_a_bad_source_is_refused_and_read_tokens_cannot_configure(store: Store) -> None:
    with _client(store) as http:
        # Act
        bad = http.put("/admin/sources/org", json={"bucket": "Not A Bucket"}, headers=AUTH)
        reader = http.put("/admin/sources/org", json={"bucket": "acme-trail"}, headers=READ_AUTH)
    # Assert
    assert bad.status_code == 400
    assert "bucket must be an S3 bucket name" in bad.json()["error"]
    assert reader.status_code == 403


def test_a_backfill_past_the_retention_warns_before_it_starts(store: Store) -> None:
    # Arrange
    first = (datetime.now(UTC) - timedelta(days=90)).date().isoformat()
    last = datetime.now(UTC).date().isoformat()
    with _client(store, retention_days=30) as http:
        http.put("/admin/sources/org", json={"bucket": "acme-org-trail"}, headers=AUTH)
        # Act
        asked = http.post("/admin/backfills", json={"source": "org", "from": first, "to": last}, headers=AUTH)
        status = http.get(f"/admin/backfills/{asked.json()['backfill_id']}", headers=AUTH).json()
        unknown = http.post(
            "/admin/backfills", json={"source": "nope", "from": first, "to": last}, headers=AUTH
        )
    # Assert: recorded as pending (a follow loop starts it) with the warning
    assert asked.status_code == 202
    assert "30-day retention" in asked.json()["warning"]
    assert (status["state"], status["finished"], status["warning"]) == (
        "pending",
        False,
        asked.json()["warning"],
    )
    assert unknown.status_code == 404


def test_a_finished_backfill_can_be_asked_to_run_again(store: Store) -> None:
    # Arrange
    with _client(store) as http:
        http.put("/admin/sources/org", json={"bucket": "acme-org-trail"}, headers=AUTH)
        asked = http.post(
            "/admin/backfills", json={"source": "org", "from": "2026-11-01", "to": "2026-11-02"}, headers=AUTH
        ).json()
        # Act
        restarted = http.post(f"/admin/backfills/{asked['backfill_id']}/restart", headers=AUTH)
        missing = http.post("/admin/backfills/nope/restart", headers=AUTH)
    # Assert: pending again, for a follow loop to plan
    assert restarted.status_code == 202
    assert restarted.json() == {"backfill_id": asked["backfill_id"], "state": "pending"}
    assert missing.status_code == 404
