"""Sources of instances' interfaces and addresses, each on an empty store: an inventory loaded as an
object, CloudTrail's network-interface records."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.instances.addresses import known_addresses
from api.instances.reads import instances_of_interfaces
from clickhouse.client import Store
from ingest.load import Loader
from ingest.sources import walk
from tests.data.attribution import scenarios
from tests.data.attribution.records import at
from tests.data.attribution.sts import call

pytestmark = pytest.mark.clickhouse

PROD = scenarios.PROD
ADMIN = {"type": "IAMUser", "principalId": "AIDAADMIN0000000000001", "arn": f"arn:aws:iam::{PROD}:user/admin",
         "accountId": PROD, "accessKeyId": "AKIAADMIN00000000001", "userName": "admin"}  # fmt: skip


def test_an_inventory_loads_as_an_object_and_vouches_for_its_addresses(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: describe-instances output saved by the operator
    from tests.unit.test_instances_inventory import DESCRIBE

    path = tmp_path / "exports" / "ec2-describe-instances.json"
    path.parent.mkdir()
    path.write_text(json.dumps(DESCRIBE))
    # Act
    [result] = loader.load_many(list(walk(tmp_path)))
    again = loader.load_many(list(walk(tmp_path)))
    # Assert: one instance stored, the entry without an id reported; loading again adds nothing
    assert (result.status, result.records_read, result.records_loaded) == ("partial", 2, 1)
    assert result.records_bad == 1
    assert again[0].records_loaded == 1
    known = known_addresses(store, ["i-0aaa0000000000001"], datetime.now(UTC), datetime.now(UTC))
    assert known["i-0aaa0000000000001"] == {"10.1.0.25", "10.1.0.26", "54.0.0.25", "2001:db8::25"}
    assert store.scalar("SELECT count() FROM instance_inventory FINAL") == 1


def test_an_interface_created_then_attached_lends_its_addresses(
    store: Store, loader: Loader, tmp_path: Path
) -> None:
    # Arrange: CreateNetworkInterface (the address) and AttachNetworkInterface (the instance)
    ids = scenarios.Ids("eni")
    eni, instance_id = "eni-0ccc0000000000001", "i-0ccc0000000000001"
    addresses = {"item": [{"privateIpAddress": "10.30.0.5"}, {"privateIpAddress": "10.30.0.6"}]}
    created = call(
        ids, at(9), ADMIN, PROD, "ec2", "CreateNetworkInterface", ip="198.51.100.24",
        response={"networkInterface": {
            "networkInterfaceId": eni, "privateIpAddress": "10.30.0.5", "privateIpAddressesSet": addresses,
        }},
    )  # fmt: skip
    attached = call(
        ids, at(9, 1), ADMIN, PROD, "ec2", "AttachNetworkInterface", ip="198.51.100.24",
        request={"networkInterfaceId": eni, "instanceId": instance_id, "deviceIndex": 1},
        response={"attachmentId": "eni-attach-1"},
    )  # fmt: skip
    refused = call(
        ids, at(9, 2), ADMIN, PROD, "ec2", "AttachNetworkInterface", ip="198.51.100.24",
        request={"networkInterfaceId": "eni-0ccc0000000000009", "instanceId": instance_id},
        error="UnauthorizedOperation",
    )  # fmt: skip
    records = [created, attached, refused]
    for r in records:
        r["recipientAccountId"] = PROD
    path = tmp_path / "AWSLogs" / PROD / "CloudTrail" / "us-east-1" / f"{PROD}_CloudTrail_us-east-1_x.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(json.dumps({"Records": records}).encode(), mtime=0))
    # Act
    loader.load_many(list(walk(tmp_path)))
    known = known_addresses(store, [instance_id], at(10), at(11))
    # Assert: both private addresses; the refused attachment ties nothing
    assert known[instance_id] == {"10.30.0.5", "10.30.0.6"}
    assert instances_of_interfaces(store, [eni, "eni-0ccc0000000000009"]) == {eni: instance_id}
