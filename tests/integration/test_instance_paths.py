"""An instance's paths to AWS and its interfaces over time, each on an empty store.

Credentials used off-instance: calls through a NAT gateway of the instance's VPC (learned from
CloudTrail or from describe-nat-gateways output) and through AWS service paths are the instance's;
calls from any other address are reported. Interfaces that move between instances: each instance's
network summary, remote addresses and network deviations keep to the time the interface was its own.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from api.deviations.compute import session_deviations
from api.deviations.types import DeviationKind
from clickhouse.client import Store
from ingest.load import LOADED, Loader
from ingest.sources import walk
from tests.data.api.harness import open_api
from tests.data.attribution import scenarios
from tests.data.attribution.records import DAY, at
from tests.data.attribution.sts import call, service_assume

pytestmark = pytest.mark.clickhouse

PROD, WEB = scenarios.PROD, scenarios.WEB
ADMIN = {"type": "IAMUser", "principalId": "AIDAADMIN0000000000001", "arn": f"arn:aws:iam::{PROD}:user/admin",
         "accountId": PROD, "accessKeyId": "AKIAADMIN00000000001", "userName": "admin"}  # fmt: skip
INSTANCE = "i-0b0b0b0b0b0b0b0b1"
VPC, OTHER_VPC = "vpc-0aaaa000000000001", "vpc-0aaaa000000000002"
PRIVATE_SUBNET, PUBLIC_SUBNET = "subnet-0ccc0000000000001", "subnet-0ccc0000000000002"
ENI = "eni-0dddd000000000001"
PRIVATE_IP = "10.40.1.15"
NAT_IP = "203.0.113.40"  # the elastic address of the VPC's NAT gateway
OTHER_NAT_IP = "198.51.100.88"  # a NAT gateway of another VPC
FOREIGN_IP = "198.51.100.77"
KEY = scenarios.asia("natinstance")
GATEWAY, ALLOCATION = "nat-0e0e0e0e0e0e0e0e1", "eipalloc-0f0f0f0f0f0f0f0f1"


def _write_trail(root: Path, records: list[dict[str, Any]], name: str = "x") -> None:
    folder = root / "AWSLogs" / PROD / "CloudTrail" / "us-east-1" / "2024" / "06" / "03"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{PROD}_CloudTrail_us-east-1_20240603T2300Z_{name}.json.gz").write_bytes(
        gzip.compress(json.dumps({"Records": records}).encode(), mtime=0)
    )


def _launch(ids: scenarios.Ids, when: datetime, instance: str, eni: str, address: str) -> dict[str, Any]:
    item = {"networkInterfaceId": eni, "privateIpAddress": address, "vpcId": VPC, "subnetId": PRIVATE_SUBNET,
            "attachment": {"attachmentId": f"eni-attach-{instance[2:]}", "deviceIndex": 0}}  # fmt: skip
    return call(
        ids, when, ADMIN, PROD, "ec2", "RunInstances",
        response={"instancesSet": {"items": [{
            "instanceId": instance, "privateIpAddress": address, "vpcId": VPC, "subnetId": PRIVATE_SUBNET,
            "networkInterfaceSet": {"items": [item]},
        }]}},
    )  # fmt: skip


def _nat_gateway(ids: scenarios.Ids, when: datetime) -> list[dict[str, Any]]:
    """An elastic address allocated, then a NAT gateway created with it: as at real creation, the
    gateway's record names the allocation id only."""
    allocated = call(ids, when, ADMIN, PROD, "ec2", "AllocateAddress", request={"domain": "vpc"},
                     response={"requestId": "r-1", "publicIp": NAT_IP, "domain": "vpc",
                               "allocationId": ALLOCATION})  # fmt: skip
    created = call(
        ids, when + timedelta(minutes=5), ADMIN, PROD, "ec2", "CreateNatGateway",
        request={"CreateNatGatewayRequest": {"AllocationId": ALLOCATION, "SubnetId": PUBLIC_SUBNET}},
        response={"CreateNatGatewayResponse": {
            "xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/", "requestId": "r-2",
            "natGateway": {
                "subnetId": PUBLIC_SUBNET, "vpcId": VPC, "natGatewayId": GATEWAY, "state": "pending",
                "natGatewayAddressSet": {"item": {"allocationId": ALLOCATION,
                                                  "networkInterfaceId": "eni-0nat0000000000001"}},
            },
        }},
    )  # fmt: skip
    return [allocated, created]


def _session(ids: scenarios.Ids, calls: list[tuple[datetime, str, str]]) -> list[dict[str, Any]]:
    """The instance's credentials minted at 02:00, then calls (time, source address, API name)."""
    minted = service_assume(ids(), at(2), "ec2.amazonaws.com", WEB, INSTANCE, KEY, hours=6)
    identity = WEB.identity(KEY, INSTANCE, at(2), ec2=True)
    return [minted, *(call(ids, when, identity, PROD, "s3", name, ip=ip) for when, ip, name in calls)]


def _off_instance(store: Store) -> dict[str, list[str]]:
    found = session_deviations(store, KEY)
    return {
        d.value: d.event_ids for d in found if d.kind == DeviationKind.CREDENTIALS_OFF_INSTANCE
    }  # fmt: skip


USUAL_CALLS = [(at(2, 5), NAT_IP, "GetObject"), (at(2, 6), NAT_IP, "PutObject"),
               (at(3), FOREIGN_IP, "ListBuckets"), (at(3, 1), FOREIGN_IP, "GetObject")]  # fmt: skip


def test_calls_through_the_vpcs_nat_gateway_are_the_instances(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: launched in a private subnet; its VPC's NAT gateway created (CloudTrail); its key used
    # through the gateway, and from a foreign address
    ids = scenarios.Ids("nat")
    records = [
        _launch(ids, at(1), INSTANCE, ENI, PRIVATE_IP),
        *_nat_gateway(ids, at(1, 10)),
        *_session(ids, USUAL_CALLS),
    ]
    _write_trail(tmp_path, records)
    assert {r.status for r in loader.load_many(list(walk(tmp_path)))} == {LOADED}
    foreign = [f"{PROD}:{r['eventID']}" for r in records if r["sourceIPAddress"] == FOREIGN_IP]
    # Act
    off = _off_instance(store)
    # Assert: the foreign address alone, with its calls, earliest first
    assert list(off) == [FOREIGN_IP]
    assert off[FOREIGN_IP] == foreign
    assert len(foreign) == 2


def test_a_deleted_gateway_vouches_no_more(store: Store, loader: Loader, tmp_path: Path) -> None:
    # Arrange: the gateway was deleted before the session; its address later used with the key
    ids = scenarios.Ids("natdel")
    deleted = call(
        ids,
        at(1, 30),
        ADMIN,
        PROD,
        "ec2",
        "DeleteNatGateway",
        request={"DeleteNatGatewayRequest": {"NatGatewayId": GATEWAY}},
        response={"DeleteNatGatewayResponse": {"natGatewayId": GATEWAY, "requestId": "r-3"}},
    )
    records = [
        _launch(ids, at(1), INSTANCE, ENI, PRIVATE_IP),
        *_nat_gateway(ids, at(1, 10)),
        deleted,
        *_session(ids, USUAL_CALLS),
    ]
    _write_trail(tmp_path, records)
    loader.load_many(list(walk(tmp_path)))
    # Act
    off = _off_instance(store)
    # Assert
    assert set(off) == {NAT_IP, FOREIGN_IP}


SECOND_IP, SECOND_ALLOCATION = "203.0.113.41", "eipalloc-0f0f0f0f0f0f0f0f2"
ASSOCIATION = "eipassoc-0a0a0a0a0a0a0a0a2"


def _second_address(ids: scenarios.Ids, when: datetime) -> list[dict[str, Any]]:
    """A secondary elastic address allocated and associated with the gateway (its record names the
    allocation and association ids, not the public address)."""
    allocated = call(
        ids,
        when,
        ADMIN,
        PROD,
        "ec2",
        "AllocateAddress",
        request={"domain": "vpc"},
        response={"publicIp": SECOND_IP, "domain": "vpc", "allocationId": SECOND_ALLOCATION},
    )
    associated = call(
        ids, when + timedelta(minutes=1), ADMIN, PROD, "ec2", "AssociateNatGatewayAddress",
        request={"AssociateNatGatewayAddressRequest": {
            "NatGatewayId": GATEWAY, "AllocationId": {"tag": 1, "content": SECOND_ALLOCATION}}},
        response={"AssociateNatGatewayAddressResponse": {"natGatewayId": GATEWAY, "natGatewayAddressSet": {
            "item": {"allocationId": SECOND_ALLOCATION, "associationId": ASSOCIATION,
                     "networkInterfaceId": "eni-0nat0000000000001", "isPrimary": False,
                     "status": "associating"}}}},
    )  # fmt: skip
    return [allocated, associated]


def _released_trail(
    ids: scenarios.Ids, calls: list[tuple[datetime, str, str]], response_lists_addresses: bool = True
) -> list[dict[str, Any]]:
    """A secondary address on the VPC's gateway from 01:21, disassociated at 03:00 with a 60 s drain
    (the response lists the address, or only the request's association id says which), associated
    again at 05:01; the instance's key used as `calls` say."""
    item = {"allocationId": SECOND_ALLOCATION, "associationId": ASSOCIATION, "publicIp": SECOND_IP,
            "status": "disassociating", "isPrimary": False}  # fmt: skip
    listed = {"natGatewayId": GATEWAY, "natGatewayAddressSet": {"item": [item]}}
    released = call(
        ids, at(3), ADMIN, PROD, "ec2", "DisassociateNatGatewayAddress",
        request={"DisassociateNatGatewayAddressRequest": {
            "NatGatewayId": GATEWAY, "AssociationId": {"tag": 1, "content": ASSOCIATION},
            "MaxDrainDurationSeconds": 60}},
        response={"DisassociateNatGatewayAddressResponse": listed} if response_lists_addresses else None,
    )  # fmt: skip
    return [
        _launch(ids, at(1), INSTANCE, ENI, PRIVATE_IP),
        *_nat_gateway(ids, at(1, 10)),
        *_second_address(ids, at(1, 20)),
        released,
        _second_address(ids, at(5))[1],
        *_session(ids, calls),
    ]


@pytest.mark.parametrize("response_lists_addresses", [True, False])
def test_a_disassociated_address_vouches_until_it_is_released(
    store: Store, loader: Loader, tmp_path: Path, response_lists_addresses: bool
) -> None:
    # Arrange: the key used from the secondary address before, during the drain, after the release,
    # and again after it came back
    calls = [(at(2, 30), SECOND_IP, "GetObject"), (at(3, 0, 30), SECOND_IP, "GetObject"),
             (at(3, 5), SECOND_IP, "ListBuckets"), (at(6), SECOND_IP, "PutObject")]  # fmt: skip
    records = _released_trail(
        scenarios.Ids(f"natoff{int(response_lists_addresses)}"), calls, response_lists_addresses
    )
    _write_trail(tmp_path, records)
    assert {r.status for r in loader.load_many(list(walk(tmp_path)))} == {LOADED}
    after = [f"{PROD}:{r['eventID']}" for r in records if r["eventName"] == "ListBuckets"]
    # Act
    off = _off_instance(store)
    # Assert: only the call between the release (03:01) and the address's return (05:01)
    assert off == {SECOND_IP: after}


def test_a_released_address_is_caught_after_many_calls_it_vouched_for(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: 30 calls through the gateway's address (more than a deviation lists), then one after
    # the address was released
    calls = [(at(2, 10 + k), SECOND_IP, "GetObject") for k in range(30)] + [
        (at(3, 5), SECOND_IP, "ListBuckets")
    ]
    records = _released_trail(scenarios.Ids("natmany"), calls)
    _write_trail(tmp_path, records)
    loader.load_many(list(walk(tmp_path)))
    after = [f"{PROD}:{r['eventID']}" for r in records if r["eventName"] == "ListBuckets"]
    # Act
    off = _off_instance(store)
    # Assert
    assert off == {SECOND_IP: after}


DESCRIBE_INSTANCES = {"Reservations": [{"OwnerId": PROD, "Instances": [{
    "InstanceId": INSTANCE, "VpcId": VPC, "SubnetId": PRIVATE_SUBNET, "PrivateIpAddress": PRIVATE_IP,
    "LaunchTime": "2024-05-01T00:00:00+00:00", "State": {"Name": "running"},
    "Placement": {"AvailabilityZone": "us-east-1a"},
}]}]}  # fmt: skip
DESCRIBE_NAT_GATEWAYS = {"NatGateways": [
    {"NatGatewayId": GATEWAY, "VpcId": VPC, "SubnetId": PUBLIC_SUBNET, "State": "available",
     "CreateTime": "2024-05-01T00:00:00+00:00", "ConnectivityType": "public",
     "NatGatewayAddresses": [{"AllocationId": ALLOCATION, "NetworkInterfaceId": "eni-0nat0000000000001",
                              "PrivateIp": "10.40.0.5", "PublicIp": NAT_IP, "IsPrimary": True,
                              "Status": "succeeded"}]},
    {"NatGatewayId": "nat-0e0e0e0e0e0e0e0e2", "VpcId": OTHER_VPC, "SubnetId": "subnet-0ccc0000000000009",
     "State": "available", "CreateTime": "2024-05-01T00:00:00+00:00",
     "NatGatewayAddresses": [{"PrivateIp": "10.99.0.5", "PublicIp": OTHER_NAT_IP}]},
    {"NatGatewayId": "", "VpcId": VPC},
]}  # fmt: skip


def test_nat_gateways_of_an_inventory_vouch_for_their_vpcs_instances(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: the operator's describe-instances and describe-nat-gateways output; the key used
    # through its VPC's gateway, through another VPC's gateway and from a foreign address
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "instances.json").write_text(json.dumps(DESCRIBE_INSTANCES))
    (exports / "nat-gateways.json").write_text(json.dumps(DESCRIBE_NAT_GATEWAYS))
    _write_trail(
        tmp_path, _session(scenarios.Ids("natinv"), [*USUAL_CALLS, (at(4), OTHER_NAT_IP, "GetObject")])
    )
    # Act
    results = {Path(r.uri).name: r for r in loader.load_many(list(walk(tmp_path)))}
    again = loader.load_many([ref for ref in walk(tmp_path) if ref.uri.endswith("nat-gateways.json")])
    off = _off_instance(store)
    # Assert: two gateways stored, the entry without an id reported, nothing doubled by a reload;
    # only the own VPC's gateway vouches
    nat = results["nat-gateways.json"]
    assert (nat.status, nat.records_read, nat.records_loaded, nat.records_bad) == ("partial", 3, 2, 1)
    assert again[0].records_loaded == 2
    assert store.scalar("SELECT count() FROM nat_gateway_addresses FINAL") == 2
    assert set(off) == {FOREIGN_IP, OTHER_NAT_IP}


def test_service_paths_are_never_off_instance(store: Store, loader: Loader, tmp_path: Path) -> None:
    # Arrange: calls an AWS service made (hostname, AWS Internal, invokedBy), and one through a VPC
    # endpoint from the instance's subnet, none from an address the instance is known to hold
    ids = scenarios.Ids("svc")
    session = _session(
        ids,
        [
            (at(2, 5), "ec2.amazonaws.com", "GetObject"),
            (at(2, 6), "AWS Internal", "GetObject"),
            (at(2, 7), "10.40.1.99", "GetObject"),
            (at(2, 8), "203.0.113.9", "GetObject"),
            (at(3), FOREIGN_IP, "ListBuckets"),
        ],
    )
    session[3]["vpcEndpointId"] = "vpce-0123456789abcdef0"
    session[4]["userIdentity"] = {**session[4]["userIdentity"], "invokedBy": "athena.amazonaws.com"}
    _write_trail(tmp_path, [_launch(ids, at(1), INSTANCE, ENI, PRIVATE_IP), *session])
    loader.load_many(list(walk(tmp_path)))
    # Act
    off = _off_instance(store)
    # Assert: the foreign address only
    assert list(off) == [FOREIGN_IP]


# -- an interface that moves ------------------------------------------------------------------------

OTHER = "i-0b0b0b0b0b0b0b0b2"
MOVING = "eni-0dddd000000000009"
MOVING_IP = "10.40.1.50"
SERVICE, EXFIL = "52.94.0.10", "198.51.100.200"
BEFORE, AFTER = DAY + timedelta(days=1, hours=9), DAY + timedelta(days=1, hours=18)  # the move: day 2, 12:00
FIELDS = "srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
DEFAULT_HEADER = f"version account-id interface-id {FIELDS}"
INSTANCE_HEADER = f"version account-id interface-id instance-id {FIELDS}"


def _flow(instance: str | None, src: str, dst: str, size: int, when: datetime) -> str:
    t = int(when.timestamp())
    owner = "" if instance is None else f"{instance} "
    packets = max(1, size // 1000)
    return f"2 {PROD} {MOVING} {owner}{src} {dst} 40000 443 6 {packets} {size} {t} {t + 60} ACCEPT OK"


def _flow_file(root: Path, header: str, lines: list[str], name: str) -> None:
    folder = root / "AWSLogs" / PROD / "vpcflowlogs" / "us-east-1" / "2024" / "06" / "04"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{PROD}_vpcflowlogs_us-east-1_fl-0a1b2c3d4e5f6070_20240604T0000Z_{name}.log.gz"
    path.write_bytes(gzip.compress(("\n".join([header, *lines]) + "\n").encode(), mtime=0))


def _attachment(ids: scenarios.Ids, when: datetime, instance: str, n: int) -> dict[str, Any]:
    request = {"networkInterfaceId": MOVING, "instanceId": instance, "deviceIndex": 1}
    response = {"attachmentId": f"eni-attach-000000000000000{n}"}
    return call(ids, when, ADMIN, PROD, "ec2", "AttachNetworkInterface", request=request, response=response)


def _moves(ids: scenarios.Ids) -> list[dict[str, Any]]:
    """The interface created and attached to INSTANCE on day 1, detached and attached to OTHER on day 2."""
    interface = {"networkInterface": {"networkInterfaceId": MOVING, "privateIpAddress": MOVING_IP}}
    created = call(ids, at(0, 30), ADMIN, PROD, "ec2", "CreateNetworkInterface", response=interface)
    move = DAY + timedelta(days=1, hours=12)
    detach = {"attachmentId": "eni-attach-0000000000000001", "force": False}
    detached = call(ids, move, ADMIN, PROD, "ec2", "DetachNetworkInterface", request=detach, response=None)
    return [
        _launch(ids, at(0), INSTANCE, ENI, PRIVATE_IP),
        _launch(ids, at(0), OTHER, "eni-0dddd000000000002", "10.40.1.16"),
        created,
        _attachment(ids, at(1), INSTANCE, 1),
        detached,
        _attachment(ids, move + timedelta(minutes=5), OTHER, 2),
    ]


NETWORK = """
query ($id: String!) {
  instance(id: $id) {
    network(from: "2024-06-01T00:00:00Z", to: "2024-06-06T00:00:00Z") { bytesOut interfaces }
    remoteAddresses(first: 10, from: "2024-06-01T00:00:00Z", to: "2024-06-06T00:00:00Z") {
      edges { node { address bytesOut } } }
    deviations { kind value }
  }
}
"""


TALKERS = """query($a: String!) { ipAddress(address: $a, from: "2024-05-01T00:00:00Z") {
  talkers { interfaceId instanceId } } }"""


def _network(store: Store, instance: str) -> dict[str, Any]:
    with open_api(store) as api:
        found: dict[str, Any] = api.data(NETWORK, {"id": instance})["instance"]
    return {
        "bytes_out": found["network"]["bytesOut"],
        "interfaces": found["network"]["interfaces"],
        "remote": {e["node"]["address"]: e["node"]["bytesOut"] for e in found["remoteAddresses"]["edges"]},
        "new": {d["value"] for d in found["deviations"] if d["kind"] == "NEW_REMOTE_ADDRESS"},
    }


def _day_one_and_two(instance_field: bool) -> list[str]:
    """The interface's flows: the first instance's service five days before (its baseline), then on
    days 1 and 2 (morning); the second instance's upload to a new address on day 2 (evening), after
    the move."""
    first, second = (INSTANCE, OTHER) if instance_field else (None, None)
    return [
        _flow(first, MOVING_IP, SERVICE, 1000, DAY - timedelta(days=5)),
        _flow(first, MOVING_IP, SERVICE, 5000, DAY + timedelta(hours=10)),
        _flow(first, MOVING_IP, SERVICE, 6000, BEFORE),
        _flow(second, MOVING_IP, EXFIL, 7_000_000, AFTER),
    ]


@pytest.mark.parametrize("shown_by", ["cloudtrail", "flows"])
def test_an_interface_that_moves_takes_its_traffic_with_it(
    store: Store, loader: Loader, tmp_path: Path, shown_by: str
) -> None:
    # Arrange: the move shown by CloudTrail (attach, detach, attach; flows of the default format,
    # without instance-id) or by the flows' instance-id field alone
    if shown_by == "cloudtrail":
        _write_trail(tmp_path, _moves(scenarios.Ids("moves")))
        _flow_file(tmp_path, DEFAULT_HEADER, _day_one_and_two(instance_field=False), "a")
    else:
        _flow_file(tmp_path, INSTANCE_HEADER, _day_one_and_two(instance_field=True), "a")
    assert {r.status for r in loader.load_many(list(walk(tmp_path)))} == {LOADED}
    # Act
    first, second = _network(store, INSTANCE), _network(store, OTHER)
    with open_api(store) as api:
        talkers = {a: api.data(TALKERS, {"a": a})["ipAddress"]["talkers"] for a in (SERVICE, EXFIL)}
    # Assert: each instance has its own traffic, remote addresses and new addresses only
    assert MOVING in first["interfaces"]
    assert MOVING in second["interfaces"]
    assert (first["bytes_out"], first["remote"]) == (11000, {SERVICE: 11000})
    assert (second["bytes_out"], second["remote"]) == (7_000_000, {EXFIL: 7_000_000})
    assert first["new"] == set()
    assert second["new"] == {EXFIL}
    # and the address pivot names the instance that held the interface when it talked
    assert talkers == {SERVICE: [{"interfaceId": MOVING, "instanceId": INSTANCE}],
                       EXFIL: [{"interfaceId": MOVING, "instanceId": OTHER}]}  # fmt: skip
