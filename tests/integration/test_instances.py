"""An EC2 instance end to end: its sessions (CloudTrail), its interfaces and addresses (CloudTrail
responses, an inventory, flow logs, a finding), its network summary and network deviations, and
its key used from an outside address, which its known addresses exclude."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.flowlogs import reads as flow_reads
from api.instances.addresses import known_addresses
from api.instances.reads import instances_of_interfaces
from clickhouse.client import Store
from ingest.instances import InterfaceObservation, record_interfaces
from ingest.load import LOADED, Loader
from ingest.sources import walk
from tests.data.api.harness import Api, as_token, open_api
from tests.data.attribution import scenarios
from tests.data.attribution.records import DAY, at
from tests.data.attribution.sts import call
from tests.support import truncate_all

pytestmark = pytest.mark.clickhouse

INSTANCE, PROD = scenarios.INSTANCE, scenarios.PROD
ENI = "eni-0a1b2c3d4e5f60789"
PRIVATE_IP = "10.20.0.15"
PUBLIC_IP = scenarios.INSTANCE_IP  # the address its own calls come from
OUTSIDE_IP = scenarios.OUTSIDE_IP  # where its second key was also used
SERVICE = "52.94.0.10"
EXFIL = "198.51.100.200"
ADMIN = {"type": "IAMUser", "principalId": "AIDAADMIN0000000000001", "arn": f"arn:aws:iam::{PROD}:user/admin",
         "accountId": PROD, "accessKeyId": "AKIAADMIN00000000001", "userName": "admin"}  # fmt: skip
HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
    "log-status"
)


def _flow(
    src: str, dst: str, sport: int, dport: int, size: int, when: datetime, action: str = "ACCEPT"
) -> str:
    t = int(when.timestamp())
    packets = max(1, size // 1000)
    return f"2 {PROD} {ENI} {src} {dst} {sport} {dport} 6 {packets} {size} {t} {t + 60} {action} OK"


def _flow_file(root: Path, day: datetime, lines: list[str]) -> None:
    folder = root / "AWSLogs" / PROD / "vpcflowlogs" / "us-east-1" / day.strftime("%Y/%m/%d")
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{PROD}_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6070_{day:%Y%m%dT%H%MZ}_{day:%d}aa.log.gz"
    (folder / name).write_bytes(gzip.compress(("\n".join([HEADER, *lines]) + "\n").encode(), mtime=0))


def write_scenario(root: Path) -> None:
    """The instance profile scenario of the attribution fixtures, plus what shows the instance's
    interface and addresses, plus two weeks of its flows."""
    trail = scenarios.Trail()
    scenarios.instance_profile(trail)
    ids = scenarios.Ids("inst")
    launched = call(
        ids, at(8), ADMIN, PROD, "ec2", "RunInstances", ip="198.51.100.24",
        response={"instancesSet": {"items": [{
            "instanceId": INSTANCE, "privateIpAddress": PRIVATE_IP,
            "networkInterfaceSet": {"items": [{"networkInterfaceId": ENI, "privateIpAddress": PRIVATE_IP}]},
        }]}},
    )  # fmt: skip
    associated = call(
        ids, at(8, 5), ADMIN, PROD, "ec2", "AssociateAddress", ip="198.51.100.24",
        request={"instanceId": INSTANCE, "publicIp": PUBLIC_IP}, response={"associationId": "eipassoc-1"},
    )  # fmt: skip
    records = [*trail.records(), launched, associated]
    for r in records:
        r.setdefault("recipientAccountId", r["userIdentity"].get("accountId", PROD))
    folder = root / "AWSLogs" / PROD / "CloudTrail" / "us-east-1" / "2024" / "06" / "03"
    folder.mkdir(parents=True)
    (folder / f"{PROD}_CloudTrail_us-east-1_20240603T2300Z_inst.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
    )
    # Baseline: every day for two weeks, HTTPS to one service.
    for days_before in range(14, 0, -1):
        day = DAY - timedelta(days=days_before) + timedelta(hours=12)
        _flow_file(root, day, [_flow(PRIVATE_IP, SERVICE, 40000, 443, 5000, day),
                               _flow(SERVICE, PRIVATE_IP, 443, 40000, 90000, day)])  # fmt: skip
    # The day of the incident: the usual service, the same service on a new port, a new address.
    day = DAY + timedelta(hours=19)
    _flow_file(root, day, [
        _flow(PRIVATE_IP, SERVICE, 40001, 443, 4000, day), _flow(SERVICE, PRIVATE_IP, 443, 40001, 80000, day),
        _flow(PRIVATE_IP, SERVICE, 40002, 8443, 3000, day),
        _flow(PRIVATE_IP, EXFIL, 40003, 4444, 25_000_000, day),
        _flow(EXFIL, PRIVATE_IP, 4444, 40003, 2000, day),
        _flow(EXFIL, PRIVATE_IP, 50000, 22, 100, day, "REJECT"),
    ])  # fmt: skip


@pytest.fixture(scope="module")
def api(migrated_store: Store, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    truncate_all(migrated_store)
    root = tmp_path_factory.mktemp("instance")
    write_scenario(root)
    results = Loader(migrated_store, retention_days=0).load_many(list(walk(root)))
    assert {r.status for r in results} == {LOADED}, results
    with open_api(migrated_store) as client:
        yield client


QUERY = """
query ($id: String!, $from: DateTime, $to: DateTime) {
  instance(id: $id) {
    identifier sessionCount apiCallCount interfaces
    sessions(first: 10) { edges { node { accessKeyId sourceIps } } }
    addresses { address kind source interfaceId }
    network(from: $from, to: $to) { bytesIn bytesOut acceptedFlows rejectedFlows
                                    series(bucket: DAY) { start bytesOut } }
    remoteAddresses(first: 1, from: $from, to: $to) {
      edges { cursor node { address bytesOut bytesIn ports localPorts } } pageInfo { hasNextPage endCursor } }
    deviations(from: $from, to: $to) { kind value severity baselines { level daysObserved complete } }
  }
}
"""


def instance(api: Api, **variables: Any) -> Any:
    return api.data(QUERY, {"id": INSTANCE, **variables})["instance"]


def test_the_instance_keeps_its_sessions_and_gains_its_interface(api: Api) -> None:
    # Act
    found = instance(api)
    # Assert
    assert found["identifier"] == INSTANCE
    assert found["sessionCount"] == 3
    assert found["interfaces"] == [ENI]
    sources = {(a["address"], a["kind"], a["source"]) for a in found["addresses"]}
    # Its flows (default format: no instance-id) reach it through the interface of its launch record.
    assert sources == {(PRIVATE_IP, "private", "cloudtrail"), (PUBLIC_IP, "public", "cloudtrail")}


def test_its_key_used_from_outside_is_not_one_of_its_addresses(api: Api, migrated_store: Store) -> None:
    # Arrange: the addresses its second key's calls came from
    sessions = instance(api)["sessions"]["edges"]
    used_from = {ip for s in sessions for ip in s["node"]["sourceIps"]}
    assert {PUBLIC_IP, OUTSIDE_IP} <= used_from
    # Act
    known = known_addresses(migrated_store, [INSTANCE], at(14), at(23))
    # Assert
    assert known[INSTANCE] == {PRIVATE_IP, PUBLIC_IP}
    assert OUTSIDE_IP not in known[INSTANCE]


def test_network_summary_in_and_out(api: Api) -> None:
    # Act: the day of the incident
    found = instance(api, **{"from": "2024-06-03T00:00:00Z", "to": "2024-06-04T00:00:00Z"})["network"]
    # Assert
    assert (found["bytesOut"], found["bytesIn"]) == (4000 + 3000 + 25_000_000, 80000 + 2000 + 100)
    assert (found["acceptedFlows"], found["rejectedFlows"]) == (5, 1)
    assert found["series"] == [{"start": "2024-06-03T00:00:00+00:00", "bytesOut": 25_007_000}]


def test_remote_addresses_page_by_bytes(api: Api) -> None:
    # Act
    scope = {"from": "2024-06-03T00:00:00Z", "to": "2024-06-04T00:00:00Z"}
    page = instance(api, **scope)["remoteAddresses"]
    second = api.data(QUERY.replace("remoteAddresses(first: 1,", "remoteAddresses(first: 1, after: $after,")
                      .replace("$to: DateTime)", "$to: DateTime, $after: String)"),
                      {"id": INSTANCE, **scope, "after": page["pageInfo"]["endCursor"]})  # fmt: skip
    # Assert: the biggest peer first, its service port, client ports left out
    [edge] = page["edges"]
    assert edge["node"] == {"address": EXFIL, "bytesOut": 25_000_000, "bytesIn": 2100, "ports": [4444],
                            "localPorts": [22]}  # fmt: skip
    assert page["pageInfo"]["hasNextPage"] is True
    [next_edge] = second["instance"]["remoteAddresses"]["edges"]
    assert next_edge["node"]["address"] == SERVICE
    assert next_edge["node"]["ports"] == [443, 8443]


def test_new_remote_address_and_port_against_the_baseline(api: Api) -> None:
    # Act
    found = instance(api, **{"from": "2024-06-03T00:00:00Z", "to": "2024-06-04T00:00:00Z"})["deviations"]
    # Assert: the new peer (much sent: high severity) and the known service on a new port
    by_kind = {(d["kind"], d["value"]): d for d in found if d["kind"].startswith("NEW_REMOTE_")}
    assert set(by_kind) == {("NEW_REMOTE_ADDRESS", EXFIL), ("NEW_REMOTE_PORT", f"{SERVICE}:8443")}
    assert by_kind[("NEW_REMOTE_ADDRESS", EXFIL)]["severity"] == pytest.approx(0.8)
    assert by_kind[("NEW_REMOTE_ADDRESS", EXFIL)]["baselines"] == [
        {"level": "INSTANCE", "daysObserved": 14, "complete": False}
    ]


def test_default_deviation_scope_is_the_last_day_with_flows(api: Api) -> None:
    # Act
    query = "query($id: String!) { instance(id: $id) { deviations { kind value } } }"
    found = api.data(query, {"id": INSTANCE})
    # Assert
    network = {d["value"] for d in found["instance"]["deviations"] if d["kind"].startswith("NEW_REMOTE_")}
    assert network == {EXFIL, f"{SERVICE}:8443"}


def test_the_instance_reports_its_key_used_from_an_outside_address(api: Api) -> None:
    # Act: one list holds the sessions' deviations and the network's
    query = "query($id: String!) { instance(id: $id) { deviations { kind value } } }"
    found = api.data(query, {"id": INSTANCE})["instance"]["deviations"]
    # Assert: the outside address, and neither of the instance's own
    off = {d["value"] for d in found if d["kind"] == "CREDENTIALS_OFF_INSTANCE"}
    assert off == {OUTSIDE_IP}


def test_which_instances_talked_to_an_address(api: Api, migrated_store: Store) -> None:
    # Act
    start, end = datetime(2024, 5, 1, tzinfo=UTC), datetime(2024, 7, 1, tzinfo=UTC)
    talkers = flow_reads.address_talkers(migrated_store, EXFIL, start, end, 10)
    owners = instances_of_interfaces(migrated_store, [t.interface_id for t in talkers])
    # Assert: found by address, and tied to the instance through its launch record
    assert [(t.interface_id, t.bytes_out, t.flows, t.accepted_flows) for t in talkers] == [
        (ENI, 25_000_000, 3, 2)
    ]
    assert owners == {ENI: INSTANCE}
    assert flow_reads.address_talkers(migrated_store, "192.0.2.99", start, end, 10) == []


def test_an_instance_known_only_from_flows_and_findings(api: Api, migrated_store: Store) -> None:
    # Arrange: a finding shows another instance's interface and public address
    other = "i-0ffff000000000001"
    written = record_interfaces(migrated_store, [InterfaceObservation(
        other, "eni-0ffff000000000001", at(9), private_addresses=("10.20.9.9",),
        public_addresses=("54.0.0.9",), account_id=PROD, evidence="finding-1",
    )])  # fmt: skip
    # Act
    found = api.data("query($id: String!) { instance(id: $id) { identifier sessionCount interfaces } }",
                     {"id": other})["instance"]  # fmt: skip
    known = known_addresses(migrated_store, [other], at(10), at(11))
    far = known_addresses(migrated_store, [other], at(10) + timedelta(days=30), at(11) + timedelta(days=30))
    # Assert: the public address counts near the finding only; the private one always
    assert written == 2
    assert found == {"identifier": other, "sessionCount": 0, "interfaces": ["eni-0ffff000000000001"]}
    assert known[other] == {"10.20.9.9", "54.0.0.9"}
    assert far[other] == {"10.20.9.9"}
    assert api.data('{ instance(id: "i-0000000000unknown") { identifier } }')["instance"] is None


def test_the_address_pivot_names_the_instance_that_talked_to_it(api: Api, migrated_store: Store) -> None:
    # Arrange
    query = """query($a: String!) { ipAddress(address: $a, from: "2024-05-01T00:00:00Z") {
      talkers { interfaceId instanceId bytesOut flows } } }"""
    elsewhere = "222233334444"
    # an instance known only from a finding, in the production account
    record_interfaces(migrated_store, [InterfaceObservation(
        "i-0ffff000000000002", "eni-0ffff000000000002", at(9), private_addresses=("10.20.9.10",),
        account_id=PROD, evidence="finding-2",
    )])  # fmt: skip
    tokens = ("test-token", f"other:read@{elsewhere}:other-only")
    # Act
    talkers = api.data(query, {"a": EXFIL})["ipAddress"]["talkers"]
    with open_api(migrated_store, tokens=tokens) as admin:
        limited = as_token(admin, "other-only")
        hidden_talkers = (limited.data(query, {"a": EXFIL})["ipAddress"] or {}).get("talkers", [])
        hidden_instance = limited.data("query($id: String!) { instance(id: $id) { identifier } }",
                                       {"id": "i-0ffff000000000002"})["instance"]  # fmt: skip
    # Assert: the interface, and its instance found through the launch record; nothing of it for a
    # token limited to another account
    assert talkers == [{"interfaceId": ENI, "instanceId": INSTANCE, "bytesOut": 25_000_000, "flows": 3}]
    assert hidden_talkers == []
    assert hidden_instance is None
