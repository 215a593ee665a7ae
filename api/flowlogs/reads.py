"""Read functions over the flow log rollups: typed arguments in, frozen dataclasses out.

Reads never scan raw flow records: they read flowlog_interface_hourly (traffic and coverage per
interface and hour) and flowlog_remote_hourly (per remote address, ports, protocol, direction and
action), bounded by interface ids (the leading sort key) or a remote address (skip index) and a
time range. Both keep sums per flow log; two flow logs capturing one interface would double its
traffic, so every read first takes, per rollup key, the largest flow log's figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from api.pagination import EPOCH
from clickhouse import tables
from clickhouse.client import Store

T_INTERFACE = tables.FLOWLOG_INTERFACE_HOURLY
T_REMOTE = tables.FLOWLOG_REMOTE_HOURLY
_REMOTE_KEY = "interface_id, hour, remote_address, remote_port, local_port, protocol, direction, action"


# Open ends of an interface span: an interface that never moved is its instance's for all time.
FOREVER = datetime(2105, 12, 31, tzinfo=UTC)


@dataclass(frozen=True)
class InterfaceSpan:
    """An interface over the time it belonged to one instance, [valid_from, valid_to).

    Reads given spans keep to the hours of each span (an hour that a move falls in counts on both
    sides); a bare interface id, or a span with open ends, reads all of its hours.
    """

    interface_id: str
    valid_from: datetime = EPOCH
    valid_to: datetime = FOREVER

    @property
    def bounded(self) -> bool:
        return self.valid_from > EPOCH or self.valid_to < FOREVER


Interfaces = Sequence[str | InterfaceSpan]


@dataclass(frozen=True)
class TrafficBucket:
    start: datetime
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    accepted_flows: int
    rejected_flows: int
    nodata_windows: int
    skipdata_windows: int


@dataclass(frozen=True)
class RemotePeer:
    """What an interface (or the interfaces of an instance) exchanged with one remote address."""

    address: str
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    flows: int
    accepted_flows: int
    rejected_flows: int
    remote_ports: tuple[int, ...]
    local_ports: tuple[int, ...]
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class AddressTalker:
    """An interface (and its instance, when known) that exchanged traffic with an address."""

    interface_id: str
    instance_id: str
    account_id: str
    bytes_in: int
    bytes_out: int
    flows: int
    accepted_flows: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Contact:
    """A remote address or address:port, with how it was used in a time range."""

    address: str
    port: int
    flows: int
    bytes_out: int
    bytes_in: int
    first_seen: datetime
    last_seen: datetime


def utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _remote_deduped(where: str) -> str:
    """flowlog_remote_hourly rows of `where`, one per rollup key: the largest flow log's sums (d_*)."""
    return f"""
        SELECT {_REMOTE_KEY}, max(fl_instance) AS d_instance, max(fl_account) AS d_account,
               argMax(fl_flows, fl_bytes) AS d_flows, max(fl_bytes) AS d_bytes,
               argMax(fl_packets, fl_bytes) AS d_packets, min(fl_first) AS d_first, max(fl_last) AS d_last
        FROM (
            SELECT {_REMOTE_KEY}, flow_log_id, max(instance_id) AS fl_instance, max(account_id) AS fl_account,
                   sum(flows) AS fl_flows, sum(bytes) AS fl_bytes, sum(packets) AS fl_packets,
                   min(first_seen) AS fl_first, max(last_seen) AS fl_last
            FROM {T_REMOTE}
            WHERE {where}
            GROUP BY {_REMOTE_KEY}, flow_log_id
        )
        GROUP BY {_REMOTE_KEY}"""


_SCOPE = "hour >= toStartOfHour({start:DateTime}) AND hour < {end:DateTime}"
_IN_INTERFACES = "interface_id IN {interfaces:Array(String)}"
_BY_INTERFACES = f"{_IN_INTERFACES} AND {_SCOPE}"
# Spans are few per instance: a short array scan per rollup row, only when an interface moved.
_WITHIN_SPANS = """arrayExists((i, f, t) -> i = interface_id AND hour >= toStartOfHour(f) AND hour < t,
    {span_interfaces:Array(String)}, {span_from:Array(DateTime)}, {span_to:Array(DateTime)})"""


def _by_interfaces(interfaces: Interfaces, *, scoped: bool = True) -> tuple[str, dict[str, Any]]:
    """The WHERE condition and parameters that keep rollup rows to the interfaces (and their spans)."""
    spans = [InterfaceSpan(i) if isinstance(i, str) else i for i in interfaces]
    where = _BY_INTERFACES if scoped else _IN_INTERFACES
    params: dict[str, Any] = {"interfaces": sorted({s.interface_id for s in spans})}
    if any(s.bounded for s in spans):
        where = f"{where} AND {_WITHIN_SPANS}"
        params.update(
            span_interfaces=[s.interface_id for s in spans],
            span_from=[s.valid_from for s in spans],
            span_to=[s.valid_to for s in spans],
        )
    return where, params


def traffic(
    store: Store, interfaces: Interfaces, start: datetime, end: datetime, bucket_seconds: int
) -> list[TrafficBucket]:
    """Traffic of the interfaces per time bucket (an hour or a day), oldest first."""
    if not interfaces:
        return []
    where, params = _by_interfaces(interfaces)
    rows = store.read(
        f"""SELECT toStartOfInterval(hour, toIntervalSecond({{bucket:UInt32}}), 'UTC') AS bucket,
                sum(best.1), sum(best.2), sum(best.3), sum(best.4), sum(best.5), sum(best.6), sum(best.7),
                sum(best.8)
            FROM (
                SELECT interface_id, hour,
                    argMax(tuple(f_bytes_in, f_bytes_out, f_packets_in, f_packets_out, f_accepted, f_rejected,
                                 f_nodata, f_skipdata), f_flows) AS best
                FROM (
                    SELECT interface_id, hour, flow_log_id, sum(flows) AS f_flows,
                        sum(bytes_in) AS f_bytes_in, sum(bytes_out) AS f_bytes_out,
                        sum(packets_in) AS f_packets_in,
                        sum(packets_out) AS f_packets_out, sum(accepted) AS f_accepted,
                        sum(rejected) AS f_rejected,
                        sum(nodata) AS f_nodata, sum(skipdata) AS f_skipdata
                    FROM {T_INTERFACE}
                    WHERE {where}
                    GROUP BY interface_id, hour, flow_log_id
                )
                GROUP BY interface_id, hour
            )
            GROUP BY bucket ORDER BY bucket""",
        {**params, "start": start, "end": end, "bucket": bucket_seconds},
    )
    return [TrafficBucket(utc(r[0]), *(int(v) for v in r[1:])) for r in rows]


_PEER_COLUMNS = """
    remote_address,
    sumIf(d_bytes, direction = 'ingress') AS bytes_in, sumIf(d_bytes, direction = 'egress') AS bytes_out,
    sumIf(d_packets, direction = 'ingress') AS packets_in,
    sumIf(d_packets, direction = 'egress') AS packets_out,
    sum(d_flows) AS flows, sumIf(d_flows, action = 'ACCEPT') AS accepted,
    sumIf(d_flows, action = 'REJECT') AS rejected,
    arraySort(groupUniqArrayIf(remote_port, remote_port != 0)) AS remote_ports,
    arraySort(groupUniqArrayIf(local_port, local_port != 0)) AS local_ports,
    min(d_first) AS first_seen, max(d_last) AS last_seen,
    bytes_in + bytes_out AS total"""


def remote_peers(
    store: Store, interfaces: Interfaces, start: datetime, end: datetime, first: int,
    after: tuple[int, str] | None,
) -> tuple[list[RemotePeer], bool]:  # fmt: skip
    """The remote addresses the interfaces exchanged traffic with, most bytes first (keyset page)."""
    if not interfaces:
        return [], False
    having = (
        ""
        if after is None
        else "HAVING total < {after_total:UInt64}"
        " OR (total = {after_total:UInt64} AND remote_address > {after_address:String})"
    )
    where, params = _by_interfaces(interfaces)
    params.update(start=start, end=end, limit=first + 1)
    if after is not None:
        params.update(after_total=after[0], after_address=after[1])
    rows = store.read(
        f"""SELECT {_PEER_COLUMNS}
            FROM ({_remote_deduped(where)})
            GROUP BY remote_address {having}
            ORDER BY total DESC, remote_address LIMIT {{limit:UInt32}}""",
        params,
    )
    peers = [_peer(row) for row in rows[:first]]
    return peers, len(rows) > first


def _peer(row: Sequence[Any]) -> RemotePeer:
    return RemotePeer(
        str(row[0]), int(row[1]), int(row[2]), int(row[3]), int(row[4]), int(row[5]), int(row[6]),
        int(row[7]), tuple(int(p) for p in row[8]), tuple(int(p) for p in row[9]), utc(row[10]), utc(row[11]),
    )  # fmt: skip


def contacts(
    store: Store, interfaces: Interfaces, start: datetime, end: datetime
) -> tuple[list[Contact], list[Contact]]:
    """Accepted remote addresses, and (address, remote service port) pairs, of the interfaces in a
    time range, each with its flows and bytes."""
    if not interfaces:
        return [], []
    where, params = _by_interfaces(interfaces)
    rows = store.read(
        f"""SELECT remote_address, remote_port, sum(d_flows), sumIf(d_bytes, direction = 'egress'),
                sumIf(d_bytes, direction = 'ingress'), min(d_first), max(d_last)
            FROM ({_remote_deduped(where + " AND action = 'ACCEPT'")})
            GROUP BY remote_address, remote_port ORDER BY remote_address, remote_port""",
        {**params, "start": start, "end": end},
    )
    ports = [
        Contact(str(r[0]), int(r[1]), int(r[2]), int(r[3]), int(r[4]), utc(r[5]), utc(r[6])) for r in rows
    ]
    addresses: dict[str, Contact] = {}
    for c in ports:
        seen = addresses.get(c.address)
        addresses[c.address] = (
            c
            if seen is None
            else Contact(
                c.address,
                0,
                seen.flows + c.flows,
                seen.bytes_out + c.bytes_out,
                seen.bytes_in + c.bytes_in,
                min(seen.first_seen, c.first_seen),
                max(seen.last_seen, c.last_seen),
            )
        )
    return [replace(c, port=0) for c in addresses.values()], [c for c in ports if c.port]


def activity_span(store: Store, interfaces: Interfaces) -> tuple[datetime, datetime] | None:
    """The first and last hour with flows of the interfaces (for default scopes and baselines)."""
    if not interfaces:
        return None
    where, params = _by_interfaces(interfaces, scoped=False)
    row = store.read(f"SELECT min(hour), max(hour), count() FROM {T_INTERFACE} WHERE {where}", params)[0]
    return (utc(row[0]), utc(row[1])) if int(row[2]) else None


def active_days(store: Store, interfaces: Interfaces, start: datetime, end: datetime) -> int:
    if not interfaces:
        return 0
    where, params = _by_interfaces(interfaces)
    return int(
        store.read(
            f"SELECT uniqExact(toDate(hour)) FROM {T_INTERFACE} WHERE {where} AND flows > 0",
            {**params, "start": start, "end": end},
        )[0][0]
    )


def address_talkers(
    store: Store, address: str, start: datetime, end: datetime, first: int
) -> list[AddressTalker]:
    """Which interfaces (and instances) exchanged traffic with an address, most bytes first."""
    rows = store.read(
        f"""SELECT interface_id, max(d_instance), max(d_account),
                sumIf(d_bytes, direction = 'ingress') AS bytes_in,
                sumIf(d_bytes, direction = 'egress') AS bytes_out,
                sum(d_flows), sumIf(d_flows, action = 'ACCEPT'), min(d_first), max(d_last)
            FROM ({_remote_deduped("remote_address = {address:String} AND " + _SCOPE)})
            GROUP BY interface_id
            ORDER BY bytes_in + bytes_out DESC, interface_id LIMIT {{limit:UInt32}}""",
        {"address": address, "start": start, "end": end, "limit": first},
    )
    return [
        AddressTalker(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5]), int(r[6]), utc(r[7]),
                      utc(r[8]))
        for r in rows
    ]  # fmt: skip
