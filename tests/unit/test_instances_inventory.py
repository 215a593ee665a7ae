"""EC2 inventories read into instances, interfaces and addresses (describe-instances, AWS Config)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.instances import (
    InterfaceObservation,
    interface_rows,
    inventory_kind,
    observations_from_finding,
    parse_inventory,
)
from ingest.nat_gateways import nat_gateway_rows, parse_nat_gateways

SNAPSHOT_TIME = datetime(2024, 6, 4, 12, tzinfo=UTC)
DESCRIBE = {
    "Reservations": [
        {
            "OwnerId": "111122223333",
            "Instances": [
                {
                    "InstanceId": "i-0aaa0000000000001",
                    "PrivateIpAddress": "10.1.0.25",
                    "PublicIpAddress": "54.0.0.25",
                    "LaunchTime": "2024-06-01T08:00:00+00:00",
                    "State": {"Name": "running"},
                    "Placement": {"AvailabilityZone": "eu-west-1b"},
                    "IamInstanceProfile": {"Arn": "arn:aws:iam::111122223333:instance-profile/web"},
                    "Tags": [{"Key": "Name", "Value": "web-1"}],
                    "NetworkInterfaces": [
                        {
                            "NetworkInterfaceId": "eni-0aaa0000000000001",
                            "PrivateIpAddress": "10.1.0.25",
                            "PrivateIpAddresses": [
                                {"PrivateIpAddress": "10.1.0.25", "Association": {"PublicIp": "54.0.0.25"}},
                                {"PrivateIpAddress": "10.1.0.26"},
                            ],
                            "Ipv6Addresses": [{"Ipv6Address": "2001:db8::25"}],
                        }
                    ],
                },
                {"State": {"Name": "terminated"}},
            ],
        }
    ]
}
CONFIG = {
    "fileVersion": "1.0",
    "configSnapshotId": "f0d2b4c6-0000-0000-0000-000000000000",
    "configurationItems": [
        {
            "resourceType": "AWS::EC2::Instance",
            "resourceId": "i-0bbb0000000000002",
            "awsAccountId": "111122223333",
            "awsRegion": "eu-west-1",
            "configurationItemCaptureTime": "2024-06-02T10:00:00.000Z",
            "configuration": {
                "instanceId": "i-0bbb0000000000002",
                "privateIpAddress": "10.1.0.30",
                "publicIpAddress": "54.0.0.30",
                "launchTime": "2024-05-30T00:00:00.000Z",
                "networkInterfaces": [
                    {"networkInterfaceId": "eni-0bbb0000000000002", "privateIpAddress": "10.1.0.30"}
                ],
            },
        },
        {
            "resourceType": "AWS::EC2::NetworkInterface",
            "resourceId": "eni-0bbb0000000000003",
            "awsAccountId": "111122223333",
            "awsRegion": "eu-west-1",
            "configurationItemCaptureTime": "2024-06-02T10:00:00.000Z",
            "configuration": {
                "networkInterfaceId": "eni-0bbb0000000000003",
                "privateIpAddress": "10.1.0.31",
                "association": {"publicIp": "54.0.0.31"},
                "attachment": {"instanceId": "i-0bbb0000000000002"},
            },
        },
        {"resourceType": "AWS::S3::Bucket", "resourceId": "logs"},
    ],
}


def addresses(observations: list[InterfaceObservation]) -> set[tuple[str, str, str, str]]:
    return {(r[0], r[1], r[2], r[3]) for r in interface_rows(observations)}


def test_describe_instances_gives_every_address_of_every_interface() -> None:
    # Act
    found, unusable = parse_inventory(orjson.dumps(DESCRIBE), SNAPSHOT_TIME, "inventory:x")
    # Assert
    [instance] = found
    assert unusable == 1  # the entry without an instance id
    assert (instance.instance_id, instance.region, instance.state, instance.tags) == (
        "i-0aaa0000000000001", "eu-west-1", "running", {"Name": "web-1"}
    )  # fmt: skip
    assert addresses(list(instance.interfaces)) == {
        ("i-0aaa0000000000001", "", "10.1.0.25", "private"),
        ("i-0aaa0000000000001", "", "54.0.0.25", "public"),
        ("i-0aaa0000000000001", "eni-0aaa0000000000001", "10.1.0.25", "private"),
        ("i-0aaa0000000000001", "eni-0aaa0000000000001", "10.1.0.26", "private"),
        ("i-0aaa0000000000001", "eni-0aaa0000000000001", "54.0.0.25", "public"),
        ("i-0aaa0000000000001", "eni-0aaa0000000000001", "2001:db8::25", "ipv6"),
    }
    # Valid from the launch (the last start: the public address holds since) to the snapshot.
    rows = interface_rows(list(instance.interfaces))
    assert {(r[7], r[8]) for r in rows} == {(datetime(2024, 6, 1, 8, tzinfo=UTC), SNAPSHOT_TIME)}


def test_a_config_snapshot_gives_instances_and_attached_interfaces() -> None:
    # Act
    found, unusable = parse_inventory(orjson.dumps(CONFIG), SNAPSHOT_TIME, "inventory:y")
    # Assert: capture time, not load time, ends the validity
    assert unusable == 0
    observations = [o for i in found for o in i.interfaces]
    assert addresses(observations) == {
        ("i-0bbb0000000000002", "", "10.1.0.30", "private"),
        ("i-0bbb0000000000002", "", "54.0.0.30", "public"),
        ("i-0bbb0000000000002", "eni-0bbb0000000000002", "10.1.0.30", "private"),
        ("i-0bbb0000000000002", "eni-0bbb0000000000003", "10.1.0.31", "private"),
        ("i-0bbb0000000000002", "eni-0bbb0000000000003", "54.0.0.31", "public"),
    }
    assert {o.seen_to for o in observations} == {datetime(2024, 6, 2, 10, tzinfo=UTC)}


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        pytest.param(orjson.dumps(DESCRIBE), "describe-instances", id="describe-instances"),
        pytest.param(orjson.dumps(CONFIG), "config-snapshot", id="config-snapshot"),
        pytest.param(b'{\n  "NatGateways": []}', "describe-nat-gateways", id="describe-nat-gateways"),
        pytest.param(b'{"Records": []}', None, id="trail"),
        pytest.param(b'[{"eventID": "x"}]', None, id="array"),
    ],
)
def test_inventories_are_told_by_their_first_bytes(head: bytes, kind: str | None) -> None:
    assert inventory_kind(head) == kind


def test_an_interface_attached_after_the_launch_is_the_instances_from_its_attachment() -> None:
    # Arrange: the instance's second interface, moved to it from another instance two days after launch
    moved = {"NetworkInterfaceId": "eni-0aaa0000000000009", "PrivateIpAddress": "10.1.0.90",
             "Attachment": {"AttachTime": "2024-06-03T09:30:00+00:00", "DeviceIndex": 1}}  # fmt: skip
    document: dict[str, Any] = orjson.loads(orjson.dumps(DESCRIBE))
    instance = document["Reservations"][0]["Instances"][0]
    instance["NetworkInterfaces"].append(moved)
    # Act
    [found], _ = parse_inventory(orjson.dumps(document), SNAPSHOT_TIME, "inventory:x")
    # Assert
    since = {o.interface_id: o.seen_from for o in found.interfaces}
    assert since["eni-0aaa0000000000009"] == datetime(2024, 6, 3, 9, 30, tzinfo=UTC)
    assert since["eni-0aaa0000000000001"] == datetime(2024, 6, 1, 8, tzinfo=UTC)


NAT_GATEWAYS = {
    "NatGateways": [
        {
            "NatGatewayId": "nat-0aaa0000000000001", "VpcId": "vpc-0aaa0000000000001",
            "SubnetId": "subnet-0aaa0000000000001", "State": "available",
            "CreateTime": "2024-05-01T00:00:00.000Z",
            "NatGatewayAddresses": [
                {"AllocationId": "eipalloc-01", "PrivateIp": "10.1.0.5", "PublicIp": "54.0.0.5"},
                {"AllocationId": "eipalloc-02", "PrivateIp": "10.1.0.6", "PublicIp": "54.0.0.6"},
            ],
        },
        {
            "NatGatewayId": "nat-0aaa0000000000002", "VpcId": "vpc-0aaa0000000000001", "State": "deleted",
            "CreateTime": "2024-04-01T00:00:00Z", "DeleteTime": "2024-04-20T00:00:00Z",
            "NatGatewayAddresses": [{"PrivateIp": "10.1.0.7", "PublicIp": "54.0.0.7"}],
        },
        {"NatGatewayId": "nat-0aaa0000000000003"},
    ]
}  # fmt: skip


def test_describe_nat_gateways_gives_each_gateways_addresses_in_its_vpc() -> None:
    # Arrange
    vpc = "vpc-0aaa0000000000001"
    # Act
    found, unusable = parse_nat_gateways(NAT_GATEWAYS)
    rows = nat_gateway_rows(found, "inventory:nat")
    # Assert: every address from the creation; the deleted gateway's end; the entry without a VPC
    assert unusable == 1
    assert {(r[0][-1], r[1], r[4], r[5], r[6], r[10]) for r in rows} == {
        ("1", vpc, "54.0.0.5", "10.1.0.5", "created", datetime(2024, 5, 1, tzinfo=UTC)),
        ("1", vpc, "54.0.0.6", "10.1.0.6", "created", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2", vpc, "54.0.0.7", "10.1.0.7", "created", datetime(2024, 4, 1, tzinfo=UTC)),
        ("2", vpc, "", "", "deleted", datetime(2024, 4, 20, tzinfo=UTC)),
    }  # fmt: skip
    with pytest.raises(ValueError, match="NatGateways"):
        parse_nat_gateways({"NatGateways": {}})


def test_not_an_inventory_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="neither"):
        parse_inventory(b'{"Accounts": []}', SNAPSHOT_TIME, "x")


def test_a_guardduty_finding_shows_its_instance_addresses(samples_dir: Path) -> None:
    # Arrange: the AWS sample EC2 finding (an EventBridge envelope)
    path = (
        samples_dir
        / "guardduty/aws-samples_amazon-guardduty-automated-response-sample/guardduty_ec2_event.json"
    )
    finding = orjson.loads(path.read_bytes())
    # Act
    found = observations_from_finding(finding)
    # Assert: its public address, dated by the finding; the anonymised 0.0.0.0 is left out
    assert addresses(found) == {("i-05746eb48123455e0", "", "11.111.111.1", "public")}
    assert [(o.source, o.evidence, o.account_id) for o in found] == [
        ("guardduty", "16afba5c5c43e07c9e3e5e2e544e95df", "123456789012")
    ]
    assert observations_from_finding({"detail": {"resource": {"resourceType": "AccessKey"}}}) == []
