"""NAT gateways of an operator's inventory: `aws ec2 describe-nat-gateways` output.

An instance in a private subnet reaches AWS through a NAT gateway of its VPC, so CloudTrail shows
the gateway's public (elastic) address as the source of the instance's calls. CloudTrail tells
of gateways created while the trail ran (migration 0012 reads those records); a saved
`{"NatGateways": [...]}` tells of the gateways that already existed. Each address of a gateway
becomes a row of nat_gateway_addresses, valid from the gateway's creation, and a deleted gateway
one more row at its deletion time.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.client import Store
from ingest.instances import _list, _time

INVENTORY = "inventory"
# A gateway without a creation time: the snapshot vouches for its addresses, since when is unknown.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = (
    "nat_gateway_id", "vpc_id", "subnet_id", "allocation_id", "public_ip", "private_ip", "change", "source",
    "account_id", "region", "changed_at", "evidence",
)  # fmt: skip


@dataclass(frozen=True)
class NatGatewayAddress:
    allocation_id: str
    public_ip: str
    private_ip: str


@dataclass(frozen=True)
class NatGateway:
    nat_gateway_id: str
    vpc_id: str
    subnet_id: str
    created_at: datetime | None
    deleted_at: datetime | None
    addresses: tuple[NatGatewayAddress, ...]


def parse_nat_gateways(document: Any) -> tuple[list[NatGateway], int]:
    """The gateways of describe-nat-gateways output, and the number of entries without a gateway
    or VPC id (unusable). Raises ValueError when the document has no NatGateways list."""
    if not isinstance(document, dict) or not isinstance(document.get("NatGateways"), list):
        raise ValueError("describe-nat-gateways output has a NatGateways list")
    found: list[NatGateway] = []
    unusable = 0
    for item in _list(document.get("NatGateways")):
        gateway_id, vpc_id = str(item.get("NatGatewayId") or ""), str(item.get("VpcId") or "")
        if not gateway_id or not vpc_id:
            unusable += 1
            continue
        addresses = tuple(
            NatGatewayAddress(
                str(a.get("AllocationId") or ""), str(a.get("PublicIp") or ""), str(a.get("PrivateIp") or "")
            )
            for a in _list(item.get("NatGatewayAddresses"))
        )
        subnet = str(item.get("SubnetId") or "")
        created, deleted = _time(item.get("CreateTime")), _time(item.get("DeleteTime"))
        found.append(NatGateway(gateway_id, vpc_id, subnet, created, deleted, addresses))
    return found, unusable


def nat_gateway_rows(gateways: list[NatGateway], evidence: str) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for g in gateways:
        gateway = [g.nat_gateway_id, g.vpc_id, g.subnet_id]
        created = g.created_at or _EPOCH
        for a in g.addresses:
            if a.public_ip or a.private_ip or a.allocation_id:
                address = [a.allocation_id, a.public_ip, a.private_ip]
                rows.append([*gateway, *address, "created", INVENTORY, "", "", created, evidence])
        if g.deleted_at is not None:
            rows.append([*gateway, "", "", "", "deleted", INVENTORY, "", "", g.deleted_at, evidence])
    return rows


def store_nat_gateways(store: Store, gateways: list[NatGateway], evidence: str) -> int:
    """Write the gateways' addresses (idempotent: every column is in the replacing key, and a retried
    insert carries the same deduplication token); returns the gateways stored."""
    rows = nat_gateway_rows(gateways, evidence)
    if rows:
        token = hashlib.sha256(orjson.dumps(rows, default=str)).hexdigest()
        store.insert(
            tables.NAT_GATEWAY_ADDRESSES, rows, _COLUMNS, {"insert_deduplication_token": f"nat:{token}"}
        )
    return len(gateways)
