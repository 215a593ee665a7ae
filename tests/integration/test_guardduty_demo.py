"""The demo's GuardDuty findings, loaded with its trails, answer what its facts say."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from clickhouse.client import Store
from ingest.demo import write_demo
from ingest.load import Loader
from ingest.sources import walk
from tests.data.api.harness import open_api

pytestmark = pytest.mark.clickhouse

QUERY = """
query ($id: ID!) {
  finding(id: $id) {
    id severity count archived
    sessions { accessKeyId }
    apiCalls(marginMinutes: 0) { edges { node { sourceIpAddress } } }
    origins { kind identifier }
    instance { identifier findings { edges { node { id } } } }
  }
}
"""


def test_the_demo_findings_lead_to_the_incidents_origins(
    loader: Loader, store: Store, tmp_path: Path
) -> None:
    # Arrange: a small demo organisation, trails, exports and findings loaded together
    summary = write_demo(tmp_path / "demo", events=3000, days=3, end=datetime(2026, 11, 1, tzinfo=UTC))
    results = loader.load_many(list(walk(tmp_path / "demo")))
    assert not [r for r in results if r.records_bad], [r.message for r in results if r.records_bad]
    facts: list[dict[str, Any]] = summary.facts["guardduty_findings"]
    travel_user = summary.facts["impossible_travel"]["user_arn"]
    by_principal = """
    query ($user: String!) {
      principal(kind: IAM_USER, identifier: $user) { findings { edges { node { id } } } }
      findings(minSeverity: 5, principal: {kind: IAM_USER, identifier: $user}) { edges { node { id } } }
    }
    """
    # Act
    with open_api(store) as api:
        found = {fact["id"]: api.data(QUERY, {"id": fact["id"]})["finding"] for fact in facts}
        user = api.data(by_principal, {"user": travel_user})
    # Assert: every finding loaded; each one with a key names its incident's origin
    for fact in facts:
        finding = found[fact["id"]]
        assert (finding["severity"], finding["archived"]) == (fact["severity"], fact["archived"]), fact
        if "origin_kind" in fact:
            assert finding["origins"] == [
                {"kind": fact["origin_kind"], "identifier": fact["origin_identifier"]}
            ]
        if fact.get("versions"):
            assert finding["count"] == fact["count"]
    exfiltration, hijack, travel, probe = facts
    # The finding's own sightings are calls of its key from the address it names.
    incidents = summary.facts
    addresses = (
        incidents["instance_credential_exfiltration"]["attacker_ip"],
        incidents["federated_user_chain"]["source_ip"],
        incidents["impossible_travel"]["ips"][1],
    )
    for fact, address in zip((exfiltration, hijack, travel), addresses, strict=True):
        ips = {edge["node"]["sourceIpAddress"] for edge in found[fact["id"]]["apiCalls"]["edges"]}
        assert address in ips, fact
    instance = found[exfiltration["id"]]["instance"]
    assert instance["identifier"] == exfiltration["origin_identifier"]
    on_instance = {edge["node"]["id"] for edge in instance["findings"]["edges"]}
    assert on_instance == {exfiltration["id"], probe["id"]}
    travel_ids = [{"node": {"id": travel["id"]}}]
    assert user["principal"]["findings"]["edges"] == travel_ids
    assert user["findings"]["edges"] == travel_ids
