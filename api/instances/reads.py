"""Read functions over what is known of EC2 instances: interfaces, addresses, inventory.

instance_interfaces holds observations from flow logs, CloudTrail responses, the operator's
inventory and GuardDuty findings. An interface belongs to an instance when any source tied them
together; rows of an interface without an instance (CreateNetworkInterface) lend it their
addresses once an attachment ties it to one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from api.flowlogs.reads import FOREVER, InterfaceSpan
from api.pagination import EPOCH
from clickhouse import tables
from clickhouse.client import Store

T_INTERFACES = tables.INSTANCE_INTERFACES
T_INVENTORY = tables.INSTANCE_INVENTORY
T_ATTACHMENTS = tables.INSTANCE_ATTACHMENTS
T_NAT = tables.NAT_GATEWAY_ADDRESSES
T_FLOW_INTERFACES = tables.FLOWLOG_INTERFACE_HOURLY


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


def interface_spans(store: Store, instance_ids: Sequence[str]) -> dict[str, list[InterfaceSpan]]:
    """The interfaces of each instance with the time each was the instance's, for flow reads.

    Every observation that ties an interface to an instance (flows' instance-id field, launch and
    attachment records, an inventory's attachment time, a finding) says the interface was that
    instance's from the observation's start; a DetachNetworkInterface record (found through the
    attachment id of the attachment it ends) says it stopped being so. An interface is its first
    instance's from the beginning, and its last instance's to the end: one that never moved gets
    one span with open ends, and its reads are those of the bare interface (one query here, and
    the detachments are read only for interfaces that some other instance held).
    """
    if not instance_ids:
        return {}
    mine = f"""SELECT interface_id FROM {T_INTERFACES}
        WHERE instance_id IN {{ids:Array(String)}} AND interface_id != ''"""
    owners = _owners_of(store, f"IN ({mine})", {"ids": list(instance_ids)})
    found: dict[str, list[InterfaceSpan]] = {instance_id: [] for instance_id in instance_ids}
    for interface, spans in sorted(owners.items()):
        for instance, start, end in spans:
            if instance in found:
                found[instance].append(InterfaceSpan(interface, start, end))
    return found


def instances_of_interfaces(
    store: Store, interface_ids: Sequence[str], at: Mapping[str, datetime] | None = None
) -> dict[str, str]:
    """The instance that held each interface at the given time (`at`, per interface), or last, for
    interfaces some source ties to one."""
    if not interface_ids:
        return {}
    owners = _owners_of(store, "IN {interfaces:Array(String)}", {"interfaces": list(interface_ids)})
    found = {}
    for interface, spans in owners.items():
        when = (at or {}).get(interface)
        held = [instance for instance, start, end in spans if when is not None and start <= when < end]
        found[interface] = held[0] if held else spans[-1][0]
    return found


def _owners_of(
    store: Store, selection: str, params: dict[str, Any]
) -> dict[str, list[tuple[str, datetime, datetime]]]:
    """Who held each interface (`interface_id <selection>`, a fixed SQL condition whose values are
    in `params`) when, from its ties and detachments."""
    rows = store.read(
        f"""SELECT interface_id, instance_id, groupUniqArray(valid_from) FROM {T_INTERFACES}
            WHERE interface_id {selection} AND instance_id != ''
            GROUP BY interface_id, instance_id""",
        params,
    )
    changes: dict[str, list[tuple[datetime, int, str]]] = {}
    for interface, instance, starts in rows:
        changes.setdefault(str(interface), []).extend((_utc(t), 0, str(instance)) for t in starts)
    moved = sorted(i for i, ties in changes.items() if len({instance for _t, _c, instance in ties}) > 1)
    if moved:
        cuts = store.read(
            f"""SELECT a.interface_id, a.instance_id, min(d.changed_at) FROM {T_ATTACHMENTS} AS d
                INNER JOIN (
                    SELECT DISTINCT interface_id, instance_id, attachment_id FROM {T_ATTACHMENTS}
                    WHERE interface_id IN {{moved:Array(String)}} AND change = 'attached'
                        AND attachment_id != '' AND instance_id != ''
                ) AS a ON d.attachment_id = a.attachment_id
                WHERE d.change = 'detached' AND d.attachment_id IN (
                    SELECT attachment_id FROM {T_ATTACHMENTS}
                    WHERE interface_id IN {{moved:Array(String)}} AND change = 'attached')
                GROUP BY a.interface_id, a.instance_id, d.attachment_id""",
            {"moved": moved},
        )
        for interface, instance, when in cuts:
            changes[str(interface)].append((_utc(when), 1, str(instance)))
    return {interface: holders(ties) for interface, ties in changes.items()}


def holders(changes: Sequence[tuple[datetime, int, str]]) -> list[tuple[str, datetime, datetime]]:
    """Who held one interface when: (instance, from, to) from its ties (time, 0, instance: the
    interface was the instance's then) and detachments (time, 1, instance: it stopped being so).

    A tie of another instance ends the holder's span and starts the next; a detachment of the
    holder ends its span, and no one holds the interface until the next tie. The first holder
    holds it from the beginning and the last to the end (a finding or a flow may see an
    interface after or before any record tied it).
    """
    spans: list[tuple[str, datetime, datetime]] = []
    owner: str | None = None
    since = EPOCH
    for when, cut, instance in sorted(changes):
        if cut:
            if owner == instance:
                spans.append((instance, since, when))
                owner = None
            continue
        if owner == instance:
            continue
        if owner is not None:
            spans.append((owner, since, when))
        # The first holder has it from the beginning; after a detachment, the next from its tie.
        since = when if spans else EPOCH
        owner = instance
    if owner is not None:
        spans.append((owner, since, FOREVER))
    return spans


@dataclass(frozen=True)
class NatAddress:
    """An address of a NAT gateway in an instance's VPC, over the time the gateway had it: calls
    from the instance reach AWS from it."""

    instance_id: str
    vpc_id: str
    nat_gateway_id: str
    address: str
    valid_from: datetime
    valid_to: datetime


def instance_vpcs(store: Store, instance_ids: Sequence[str]) -> dict[str, set[str]]:
    """The VPCs each instance is known in: an inventory, its launch record, or else its interfaces'
    flows (the vpc-id field of custom formats)."""
    if not instance_ids:
        return {}
    rows = store.read(
        f"""SELECT instance_id, vpc_id, '' FROM {T_INVENTORY} FINAL
            WHERE instance_id IN {{ids:Array(String)}} AND vpc_id != ''
            UNION ALL
            SELECT DISTINCT instance_id, vpc_id, '' FROM {T_ATTACHMENTS}
            WHERE instance_id IN {{ids:Array(String)}} AND vpc_id != ''
            UNION ALL
            SELECT DISTINCT instance_id, '', interface_id FROM {T_INTERFACES}
            WHERE instance_id IN {{ids:Array(String)}} AND interface_id != ''""",
        {"ids": list(instance_ids)},
    )
    found: dict[str, set[str]] = {instance_id: set() for instance_id in instance_ids}
    interfaces: dict[str, set[str]] = {}
    for instance, vpc, interface in rows:
        if vpc:
            found.setdefault(str(instance), set()).add(str(vpc))
        else:
            interfaces.setdefault(str(interface), set()).add(str(instance))
    unknown = sorted(i for i, owners in interfaces.items() if any(not found.get(o) for o in owners))
    if unknown:
        for interface, vpc in store.read(
            f"""SELECT interface_id, any(vpc_id) FROM {T_FLOW_INTERFACES}
                WHERE interface_id IN {{interfaces:Array(String)}} AND vpc_id != '' GROUP BY interface_id""",
            {"interfaces": unknown},
        ):
            for instance in interfaces[str(interface)]:
                found.setdefault(instance, set()).add(str(vpc))
    return found


def nat_addresses(store: Store, instance_ids: Sequence[str]) -> dict[str, list[NatAddress]]:
    """For each instance, the public and private addresses of the NAT gateways of its VPCs, each
    over the times the gateway had it: from its record (creation, association) to its release
    (a disassociation, after its drain) or the gateway's deletion; an address associated again
    vouches again. A public address that the gateway's record names only by allocation id is the
    one its AllocateAddress record returned; a disassociation that names only association ids
    releases the addresses those associations brought."""
    found: dict[str, list[NatAddress]] = {instance_id: [] for instance_id in instance_ids}
    if not instance_ids:
        return found
    # The VPCs that have NAT gateways first: a small table (a row per gateway address), read by its
    # leading key; where no gateway is known, as in most stores without them, one short query.
    with_gateways = {
        str(vpc) for (vpc,) in store.read(f"SELECT DISTINCT vpc_id FROM {T_NAT} WHERE vpc_id != ''")
    }
    if not with_gateways:
        return found
    vpcs = instance_vpcs(store, instance_ids)
    every_vpc = sorted({vpc for ids in vpcs.values() for vpc in ids} & with_gateways)
    if not every_vpc:
        return found
    rows = store.read(
        f"""WITH gateways AS (
                SELECT DISTINCT nat_gateway_id FROM {T_NAT}
                WHERE vpc_id IN {{vpcs:Array(String)}} AND nat_gateway_id != ''
            )
            SELECT nat_gateway_id, vpc_id, allocation_id, association_id, public_ip, private_ip, change,
                changed_at
            FROM {T_NAT} WHERE nat_gateway_id IN (SELECT nat_gateway_id FROM gateways)
            UNION ALL
            SELECT '', '', allocation_id, '', public_ip, '', change, changed_at FROM {T_NAT}
            WHERE change = 'allocated' AND allocation_id IN (
                SELECT allocation_id FROM {T_NAT}
                WHERE nat_gateway_id IN (SELECT nat_gateway_id FROM gateways) AND allocation_id != '')""",
        {"vpcs": every_vpc},
    )
    spans = _gateway_spans([(str(g), str(v), str(al), str(asn), str(pu), str(pr), str(c), _utc(w))
                            for g, v, al, asn, pu, pr, c, w in rows])  # fmt: skip
    for gateway, vpc, address, start, end in spans:
        for instance_id, ids in vpcs.items():
            if vpc in ids and instance_id in found:
                found[instance_id].append(NatAddress(instance_id, vpc, gateway, address, start, end))
    return found


_GatewayRow = tuple[str, str, str, str, str, str, str, datetime]


def _brought_keys(gateway: str, allocation: str, association: str) -> list[tuple[str, str, str]]:
    """The ids under which a gateway row's addresses are known: its allocation and association."""
    return [
        (gateway, kind, value)
        for kind, value in (("allocation", allocation), ("association", association))
        if value
    ]


def _gateway_spans(rows: Sequence[_GatewayRow]) -> list[tuple[str, str, str, datetime, datetime]]:
    """(gateway, VPC, address, from, to) for each time a gateway had an address, from the rows of
    nat_gateway_addresses: (gateway, VPC, allocation, association, public, private, change, at)."""
    allocated = {al: pu for _, _, al, _, pu, _, change, _ in rows if change == "allocated" and al}
    vpc_of: dict[str, str] = {}
    deleted: dict[str, datetime] = {}
    # What each association (and allocation) of a gateway brought: its addresses.
    brought: dict[tuple[str, str, str], set[str]] = {}
    changes: dict[tuple[str, str], list[tuple[datetime, bool]]] = {}
    releases: list[tuple[str, str, str, set[str], datetime]] = []
    for gateway, vpc, allocation, association, public, private, change, at in rows:
        addresses = {a for a in (public or allocated.get(allocation, ""), private) if a}
        if change == "deleted":
            deleted[gateway] = min(at, deleted.get(gateway, at))
        elif change == "disassociated":
            releases.append((gateway, allocation, association, addresses, at))
        elif change in ("created", "associated"):
            vpc_of[gateway] = vpc or vpc_of.get(gateway, "")
            for key in _brought_keys(gateway, allocation, association):
                brought.setdefault(key, set()).update(addresses)
            for address in addresses:
                changes.setdefault((gateway, address), []).append((at, True))
    for gateway, allocation, association, addresses, at in releases:
        named = set(addresses)
        for key in _brought_keys(gateway, allocation, association):
            named |= brought.get(key, set())
        for address in named:
            changes.setdefault((gateway, address), []).append((at, False))
    spans = []
    for (gateway, address), seen in sorted(changes.items()):
        end_of_gateway = deleted.get(gateway, FOREVER)
        start: datetime | None = None
        # By time; at one instant a release before an association (a swap ends, then begins).
        for at, associated in sorted(seen, key=lambda change: (change[0], change[1])):
            if associated and start is None:
                start = at
            elif not associated and start is not None:
                spans.append((gateway, vpc_of.get(gateway, ""), address, start, min(at, end_of_gateway)))
                start = None
        if start is not None:
            spans.append((gateway, vpc_of.get(gateway, ""), address, start, end_of_gateway))
    return [span for span in spans if span[3] < span[4]]
