"""EC2 instances' interfaces and addresses: an operator's inventory, and observations from others.

Two inventory shapes are read: the JSON of `aws ec2 describe-instances` (`{"Reservations": [...]}`)
and an AWS Config snapshot (`{"configurationItems": [...]}`, EC2 instances and network
interfaces). Auto-assigned public addresses appear in neither CloudTrail nor flow logs: an
inventory is where they come from. Each instance becomes a row of instance_inventory and one row
of instance_interfaces per (interface, address), valid from the instance's launch to the
snapshot.

`record_interfaces` is the one way other slices (GuardDuty findings' network interfaces) add
what they observed: call it with InterfaceObservation values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from clickhouse import tables
from clickhouse.client import Store

INVENTORY = "inventory"
# Sample and redacted findings write 0.0.0.0 for addresses they hide: no address at all.
_ANONYMISED = ".".join("0000")
GUARDDUTY = "guardduty"
_COLUMNS = (
    "instance_id", "interface_id", "address", "address_kind", "source", "account_id", "region",
    "valid_from", "valid_to", "evidence",
)  # fmt: skip
_INVENTORY_COLUMNS = (
    "instance_id", "account_id", "region", "vpc_id", "subnet_id", "instance_type", "image_id", "state",
    "launch_time", "instance_profile_arn", "name", "tags", "observed_at", "object_id",
)  # fmt: skip


@dataclass(frozen=True)
class InterfaceObservation:
    """What a source saw of an instance's interface at some time (or over [seen_from, seen_to]).

    Any of instance_id and interface_id may be empty, not both. Addresses may be empty: then the
    observation only ties the interface to the instance.
    """

    instance_id: str
    interface_id: str
    seen_from: datetime
    seen_to: datetime | None = None
    private_addresses: tuple[str, ...] = ()
    public_addresses: tuple[str, ...] = ()
    ipv6_addresses: tuple[str, ...] = ()
    source: str = GUARDDUTY
    account_id: str = ""
    region: str = ""
    # What showed it: a finding id, an inventory object, an event id.
    evidence: str = ""


def interface_rows(observations: Iterable[InterfaceObservation]) -> list[list[Any]]:
    """instance_interfaces rows: one per address, or one without address for a bare attachment."""
    rows: list[list[Any]] = []
    for o in observations:
        if not (o.instance_id or o.interface_id):
            continue
        start = _utc(o.seen_from)
        end = _utc(o.seen_to) if o.seen_to else start
        common = [o.source, o.account_id, o.region, start, max(start, end), o.evidence]
        addresses = [
            *((a, "private") for a in o.private_addresses),
            *((a, "public") for a in o.public_addresses),
            *((a, "ipv6") for a in o.ipv6_addresses),
        ]
        for address, kind in dict.fromkeys(a for a in addresses if a[0]):
            rows.append([o.instance_id, o.interface_id, address, kind, *common])
        if not addresses and o.instance_id and o.interface_id:
            rows.append([o.instance_id, o.interface_id, "", "", *common])
    return rows


def record_interfaces(store: Store, observations: Sequence[InterfaceObservation]) -> int:
    """Store observations of instances' interfaces and addresses; returns the rows written.

    Idempotent: the same observations stored twice are one (ReplacingMergeTree on every column
    of the observation, and a deduplication token for a retried insert).
    """
    rows = interface_rows(observations)
    if rows:
        token = hashlib.sha256(orjson.dumps(rows, default=str)).hexdigest()
        store.insert(
            tables.INSTANCE_INTERFACES, rows, _COLUMNS, {"insert_deduplication_token": f"interfaces:{token}"}
        )
    return len(rows)


def observations_from_finding(finding: dict[str, Any]) -> list[InterfaceObservation]:
    """The instance's interfaces and addresses a GuardDuty finding shows (an EventBridge envelope
    or the bare finding), for record_interfaces. Empty for findings about other resources."""
    finding = _dict(finding.get("detail")) or finding
    details = _dict(_dict(finding.get("resource")).get("instanceDetails"))
    instance_id = str(details.get("instanceId") or "")
    service = _dict(finding.get("service"))
    first = _time(service.get("eventFirstSeen")) or _time(finding.get("createdAt"))
    last = _time(service.get("eventLastSeen")) or _time(finding.get("updatedAt")) or first
    if not instance_id or first is None:
        return []
    found = []
    account, region = str(finding.get("accountId") or ""), str(finding.get("region") or "")
    for eni in _list(details.get("networkInterfaces")):
        private = [*_strings(eni.get("privateIpAddress"))]
        private += [
            str(p["privateIpAddress"])
            for p in _list(eni.get("privateIpAddresses"))
            if p.get("privateIpAddress")
        ]
        private_seen = tuple(a for a in dict.fromkeys(private) if a != _ANONYMISED)
        public = tuple(a for a in _strings(eni.get("publicIp")) if a != _ANONYMISED)
        ipv6 = tuple(str(a) for a in eni.get("ipv6Addresses") or [] if isinstance(a, str) and a)
        observation = InterfaceObservation(
            instance_id, str(eni.get("networkInterfaceId") or ""), first, last, private_seen, public, ipv6,
            source=GUARDDUTY, account_id=account, region=region, evidence=str(finding.get("id") or ""),
        )  # fmt: skip
        found.append(observation)
    return found


# -- inventories ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InventoryInstance:
    instance_id: str
    account_id: str = ""
    region: str = ""
    vpc_id: str = ""
    subnet_id: str = ""
    instance_type: str = ""
    image_id: str = ""
    state: str = ""
    launch_time: datetime | None = None
    instance_profile_arn: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    interfaces: tuple[InterfaceObservation, ...] = ()


def inventory_kind(head: bytes) -> str | None:
    """'describe-instances', 'describe-nat-gateways' or 'config-snapshot' when the first bytes look
    like one, else None."""
    text = head.lstrip()[:4096]
    if not text.startswith(b"{"):
        return None
    if b'"Reservations"' in text:
        return "describe-instances"
    if b'"NatGateways"' in text:
        return "describe-nat-gateways"
    if b'"configurationItems"' in text and (
        b"AWS::EC2::Instance" in text or b"AWS::EC2::NetworkInterface" in text
    ):
        return "config-snapshot"
    if b'"configurationItems"' in text and b'"configSnapshotId"' in text:
        return "config-snapshot"
    return None


def parse_inventory(data: bytes, observed_at: datetime, evidence: str) -> tuple[list[InventoryInstance], int]:
    """Instances of an inventory and the number of entries without an instance id (unusable).

    Raises ValueError when the text is not JSON or has neither shape.
    """
    document = orjson.loads(data)
    if not isinstance(document, dict):
        raise ValueError("an inventory is a JSON object")
    if "Reservations" in document:
        return _describe_instances(document, observed_at, evidence)
    if "configurationItems" in document:
        return _config_snapshot(document, observed_at, evidence)
    raise ValueError("neither describe-instances output nor an AWS Config snapshot")


def _describe_instances(
    document: dict[str, Any], observed_at: datetime, evidence: str
) -> tuple[list[InventoryInstance], int]:
    found: list[InventoryInstance] = []
    unusable = 0
    for reservation in _list(document.get("Reservations")):
        owner = str(reservation.get("OwnerId") or "")
        for item in _list(reservation.get("Instances")):
            instance_id = str(item.get("InstanceId") or "")
            if not instance_id:
                unusable += 1
                continue
            launch = _time(item.get("LaunchTime"))
            zone = str(_dict(item.get("Placement")).get("AvailabilityZone") or "")
            region = zone[:-1] if zone and zone[-1].isalpha() else zone
            interfaces = [
                _interface(instance_id, eni, launch, observed_at, owner, region, evidence, upper=True)
                for eni in _list(item.get("NetworkInterfaces"))
            ]
            primary = InterfaceObservation(
                instance_id, "", launch or observed_at, observed_at,
                private_addresses=_strings(item.get("PrivateIpAddress")),
                public_addresses=_strings(item.get("PublicIpAddress")),
                source=INVENTORY, account_id=owner, region=region, evidence=evidence,
            )  # fmt: skip
            found.append(
                InventoryInstance(
                    instance_id,
                    owner,
                    region,
                    str(item.get("VpcId") or ""),
                    str(item.get("SubnetId") or ""),
                    str(item.get("InstanceType") or ""),
                    str(item.get("ImageId") or ""),
                    str(_dict(item.get("State")).get("Name") or ""),
                    launch,
                    str(_dict(item.get("IamInstanceProfile")).get("Arn") or ""),
                    _tags(item.get("Tags"), "Key", "Value"),
                    (primary, *interfaces),
                )
            )
    return found, unusable


def _config_snapshot(
    document: dict[str, Any], observed_at: datetime, evidence: str
) -> tuple[list[InventoryInstance], int]:
    instances: dict[str, InventoryInstance] = {}
    attachments: list[InterfaceObservation] = []
    unusable = 0
    for item in _list(document.get("configurationItems")):
        kind = item.get("resourceType")
        config = _dict(item.get("configuration"))
        captured = _time(item.get("configurationItemCaptureTime")) or observed_at
        account, region = str(item.get("awsAccountId") or ""), str(item.get("awsRegion") or "")
        if kind == "AWS::EC2::Instance":
            instance_id = str(config.get("instanceId") or item.get("resourceId") or "")
            if not instance_id:
                unusable += 1
                continue
            launch = _time(config.get("launchTime"))
            interfaces = [
                _interface(instance_id, eni, launch, captured, account, region, evidence, upper=False)
                for eni in _list(config.get("networkInterfaces"))
            ]
            primary = InterfaceObservation(
                instance_id, "", launch or captured, captured,
                private_addresses=_strings(config.get("privateIpAddress")),
                public_addresses=_strings(config.get("publicIpAddress")),
                source=INVENTORY, account_id=account, region=region, evidence=evidence,
            )  # fmt: skip
            instances[instance_id] = InventoryInstance(
                instance_id, account, region, str(config.get("vpcId") or ""),
                str(config.get("subnetId") or ""),
                str(config.get("instanceType") or ""), str(config.get("imageId") or ""),
                str(_dict(config.get("state")).get("name") or ""), launch,
                str(_dict(config.get("iamInstanceProfile")).get("arn") or ""),
                _tags(item.get("tags") or config.get("tags"), "key", "value"), (primary, *interfaces),
            )  # fmt: skip
        elif kind == "AWS::EC2::NetworkInterface":
            attached = str(_dict(config.get("attachment")).get("instanceId") or "")
            eni = _interface(attached, config, None, captured, account, region, evidence, upper=False)
            if eni.interface_id:
                attachments.append(eni)
            else:
                unusable += 1
    found = list(instances.values())
    if attachments:
        found.append(InventoryInstance("", interfaces=tuple(attachments)))
    return found, unusable


def _interface(
    instance_id: str, eni: dict[str, Any], launch: datetime | None, observed_at: datetime, account: str,
    region: str, evidence: str, *, upper: bool,
) -> InterfaceObservation:  # fmt: skip
    """One interface of describe-instances (PascalCase) or of a Config item (camelCase)."""

    def key(name: str) -> str:
        return name[0].upper() + name[1:] if upper else name

    private = [*_strings(eni.get(key("privateIpAddress")))]
    public = [*_strings(_dict(eni.get(key("association"))).get(key("publicIp")))]
    for entry in _list(eni.get(key("privateIpAddresses"))):
        private += _strings(entry.get(key("privateIpAddress")))
        public += _strings(_dict(entry.get(key("association"))).get(key("publicIp")))
    ipv6 = [
        str(e.get(key("ipv6Address")))
        for e in _list(eni.get(key("ipv6Addresses")))
        if e.get(key("ipv6Address"))
    ]
    attachment = _dict(eni.get(key("attachment")))
    # An interface attached after the launch (moved from another instance) is this instance's from
    # its attachment time: the launch time would claim the other instance's time with it.
    since = _time(attachment.get(key("attachTime"))) or launch or observed_at
    return InterfaceObservation(
        instance_id or str(attachment.get(key("instanceId")) or ""),
        str(eni.get(key("networkInterfaceId")) or ""),
        min(since, observed_at), observed_at,
        tuple(dict.fromkeys(private)), tuple(dict.fromkeys(public)), tuple(ipv6),
        source=INVENTORY, account_id=account, region=region, evidence=evidence,
    )  # fmt: skip


def inventory_rows(
    instances: Sequence[InventoryInstance], observed_at: datetime, object_id: str
) -> list[list[Any]]:
    return [
        [
            i.instance_id, i.account_id, i.region, i.vpc_id, i.subnet_id, i.instance_type, i.image_id,
            i.state, i.launch_time, i.instance_profile_arn, i.tags.get("Name", ""), i.tags, observed_at,
            object_id,
        ]
        for i in instances
        if i.instance_id
    ]  # fmt: skip


def store_inventory(
    store: Store, instances: Sequence[InventoryInstance], observed_at: datetime, object_id: str
) -> int:
    """Write an inventory's instances and their interfaces; returns the instances stored."""
    rows = inventory_rows(instances, observed_at, object_id)
    if rows:
        store.insert(tables.INSTANCE_INVENTORY, rows, _INVENTORY_COLUMNS)
    record_interfaces(store, [o for i in instances for o in i.interfaces])
    return len(rows)


def _list(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _strings(value: Any) -> tuple[str, ...]:
    return (str(value),) if isinstance(value, str) and value else ()


def _tags(value: Any, key: str, val: str) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return {str(t.get(key)): str(t.get(val) or "") for t in _list(value) if t.get(key)}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
