"""GraphQL types of the flow log slice: traffic summaries, remote addresses, address talkers."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from api.flowlogs import reads
from api.pagination import PageInfo, open_scope

# Flow reads are bounded by interfaces: the default scope is everything retained.
scope = open_scope


class BucketSize(StrEnum):
    HOUR = "HOUR"
    DAY = "DAY"


BucketSizeEnum = strawberry.enum(BucketSize, name="BucketSize")
BUCKET_SECONDS = {BucketSize.HOUR: 3600, BucketSize.DAY: 86400}


@strawberry.type(description="Traffic in one time bucket (an hour or a day).")
class TrafficPoint:
    start: datetime
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    accepted_flows: int
    rejected_flows: int
    nodata_windows: int = strawberry.field(description="Capture windows with no traffic (NODATA).")
    skipdata_windows: int = strawberry.field(
        description="Capture windows where AWS skipped records (SKIPDATA): the figures are incomplete."
    )

    @classmethod
    def build(cls, bucket: reads.TrafficBucket) -> TrafficPoint:
        return cls(
            start=bucket.start, bytes_in=bucket.bytes_in, bytes_out=bucket.bytes_out,
            packets_in=bucket.packets_in, packets_out=bucket.packets_out,
            accepted_flows=bucket.accepted_flows, rejected_flows=bucket.rejected_flows,
            nodata_windows=bucket.nodata_windows, skipdata_windows=bucket.skipdata_windows,
        )  # fmt: skip


@strawberry.type(description="A remote address an instance exchanged traffic with, over a time scope.")
class RemoteAddress:
    address: str
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    flows: int
    accepted_flows: int
    rejected_flows: int
    ports: list[int] = strawberry.field(
        description="The remote side's service ports (client ports left out)."
    )
    local_ports: list[int] = strawberry.field(description="The instance's service ports it reached.")
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def build(cls, peer: reads.RemotePeer) -> RemoteAddress:
        return cls(
            address=peer.address, bytes_in=peer.bytes_in, bytes_out=peer.bytes_out,
            packets_in=peer.packets_in, packets_out=peer.packets_out, flows=peer.flows,
            accepted_flows=peer.accepted_flows, rejected_flows=peer.rejected_flows,
            ports=list(peer.remote_ports), local_ports=list(peer.local_ports),
            first_seen=peer.first_seen, last_seen=peer.last_seen,
        )  # fmt: skip


@strawberry.type
class RemoteAddressEdge:
    node: RemoteAddress
    cursor: str


@strawberry.type
class RemoteAddressConnection:
    edges: list[RemoteAddressEdge]
    page_info: PageInfo


@strawberry.type(description="An interface (and its instance) that exchanged traffic with an address.")
class AddressTalker:
    interface_id: str
    instance_id: str | None
    account_id: str | None
    bytes_in: int
    bytes_out: int
    flows: int
    accepted_flows: int
    first_seen: datetime
    last_seen: datetime

    @classmethod
    def build(cls, talker: reads.AddressTalker, instance_id: str) -> AddressTalker:
        return cls(
            interface_id=talker.interface_id, instance_id=instance_id or None,
            account_id=talker.account_id or None, bytes_in=talker.bytes_in, bytes_out=talker.bytes_out,
            flows=talker.flows, accepted_flows=talker.accepted_flows, first_seen=talker.first_seen,
            last_seen=talker.last_seen,
        )  # fmt: skip
