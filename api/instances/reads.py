"""Read functions over what is known of EC2 instances: interfaces, addresses, inventory.

instance_interfaces holds observations from flow logs, CloudTrail responses, the operator's
inventory and GuardDuty findings. An interface belongs to an instance when any source tied them
together; rows of an interface without an instance (CreateNetworkInterface) lend it their
addresses once an attachment ties it to one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from clickhouse import tables
from clickhouse.client import Store

T_INTERFACES = tables.INSTANCE_INTERFACES
T_INVENTORY = tables.INSTANCE_INVENTORY


@dataclass(frozen=True)
class AddressSpan:
    """An address an instance held, by which interface, from which source, over which time."""

    instance_id: str
    interface_id: str
    address: str
    kind: str
    source: str
    valid_from: datetime
    valid_to: datetime


@dataclass(frozen=True)
class InventoryEntry:
    instance_id: str
    account_id: str
    region: str
    vpc_id: str
    subnet_id: str
    instance_type: str
    image_id: str
    state: str
    launch_time: datetime | None
    instance_profile_arn: str
    name: str
    observed_at: datetime


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def interfaces_of(store: Store, instance_ids: Sequence[str]) -> dict[str, list[str]]:
    """The interfaces each instance is known to have had (any source, any time)."""
    if not instance_ids:
        return {}
    rows = store.read(
        f"""SELECT instance_id, groupUniqArray(interface_id) FROM {T_INTERFACES}
            WHERE instance_id IN {{ids:Array(String)}} AND interface_id != '' GROUP BY instance_id""",
        {"ids": list(instance_ids)},
    )
    found = {str(instance): sorted(str(i) for i in interfaces) for instance, interfaces in rows}
    return {instance_id: found.get(instance_id, []) for instance_id in instance_ids}


def address_spans(store: Store, instance_ids: Sequence[str]) -> list[AddressSpan]:
    """Every address observation of the instances: their own rows and their interfaces' rows."""
    if not instance_ids:
        return []
    rows = store.read(
        f"""WITH mine AS (
                SELECT DISTINCT instance_id, interface_id FROM {T_INTERFACES}
                WHERE instance_id IN {{ids:Array(String)}} AND interface_id != ''
            )
            SELECT if(t.instance_id != '', t.instance_id, m.instance_id) AS instance, t.interface_id,
                t.address, t.address_kind, t.source, min(t.valid_from), max(t.valid_to)
            FROM {T_INTERFACES} AS t
            LEFT JOIN mine AS m ON t.interface_id = m.interface_id AND t.instance_id = ''
            WHERE t.address != '' AND (t.instance_id IN {{ids:Array(String)}}
                OR (t.instance_id = '' AND t.interface_id IN (SELECT interface_id FROM mine)))
            GROUP BY instance, t.interface_id, t.address, t.address_kind, t.source
            ORDER BY instance, t.address, t.source""",
        {"ids": list(instance_ids)},
    )
    return [
        AddressSpan(str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), _utc(r[5]), _utc(r[6]))
        for r in rows
        if str(r[0])
    ]


def inventory(store: Store, instance_ids: Sequence[str]) -> dict[str, InventoryEntry]:
    """The newest inventory entry of each instance that an inventory listed."""
    if not instance_ids:
        return {}
    rows = store.read(
        f"""SELECT instance_id, account_id, region, vpc_id, subnet_id, instance_type, image_id, state,
                launch_time, instance_profile_arn, name, observed_at
            FROM {T_INVENTORY} FINAL WHERE instance_id IN {{ids:Array(String)}}""",
        {"ids": list(instance_ids)},
    )
    found = {}
    for r in rows:
        text = [str(v) for v in r[:8]]
        found[text[0]] = InventoryEntry(
            text[0], text[1], text[2], text[3], text[4], text[5], text[6], text[7],
            _utc(r[8]) if r[8] else None, str(r[9]), str(r[10]), _utc(r[11]),
        )  # fmt: skip
    return found


def known_instance(store: Store, instance_id: str) -> str | None:
    """The account of an instance that flows, an inventory, CloudTrail or findings know; None if unknown."""
    rows = store.read(
        f"""SELECT max(account_id) FROM {T_INTERFACES} WHERE instance_id = {{id:String}}
            HAVING count() > 0""",
        {"id": instance_id},
    )
    return str(rows[0][0]) if rows else None


def instances_of_interfaces(store: Store, interface_ids: Sequence[str]) -> dict[str, str]:
    """The instance each interface was last tied to, for interfaces some source ties to one."""
    if not interface_ids:
        return {}
    rows = store.read(
        f"""SELECT interface_id, argMax(instance_id, valid_to) FROM {T_INTERFACES}
            WHERE interface_id IN {{ids:Array(String)}} AND instance_id != '' GROUP BY interface_id""",
        {"ids": list(interface_ids)},
    )
    return {str(interface): str(instance) for interface, instance in rows}
