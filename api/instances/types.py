"""GraphQL fields of an EC2 instance beyond its sessions: interfaces, addresses over time, network
summary, remote addresses and network deviations. Ec2Instance (api.cloudtrail.principal_types)
takes them from InstanceFields; each resolver reads through this slice's functions.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.context import Info
from api.deviations.types import Deviation
from api.errors import BadRequest
from api.fields import field
from api.flowlogs import reads as flows
from api.flowlogs.types import (
    BUCKET_SECONDS,
    BucketSize,
    BucketSizeEnum,
    RemoteAddress,
    RemoteAddressConnection,
    RemoteAddressEdge,
    TrafficPoint,
    scope,
)
from api.instances import reads
from api.instances.deviations import network_deviations
from api.pagination import PageInfo, decode_cursor, encode_cursor, page_size, storable_time

From = Annotated[datetime | None, strawberry.argument(name="from")]
MAX_POINTS = 2000
DEFAULT_DEVIATION_SCOPE = timedelta(days=1)


@strawberry.type(description="An address an instance held, from one source, over a time span.")
class InstanceAddress:
    address: str
    kind: str = strawberry.field(description="private, public or ipv6.")
    source: str = strawberry.field(description="flowlogs, inventory, cloudtrail or guardduty.")
    interface_id: str | None
    valid_from: datetime
    valid_to: datetime


@strawberry.type(description="The instance as the operator's EC2 inventory listed it.")
class InstanceInventory:
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


@strawberry.type(description="Traffic of an instance's interfaces over a time scope (flow log rollups).")
class NetworkSummary:
    start: datetime
    end: datetime
    interfaces: list[str]
    bytes_in: int
    bytes_out: int
    packets_in: int
    packets_out: int
    accepted_flows: int
    rejected_flows: int
    nodata_windows: int
    skipdata_windows: int

    # The interfaces with the time each was the instance's (traffic after a move is the other's).
    held: strawberry.Private[list[flows.InterfaceSpan]]

    @field(description="The same traffic per hour or per day with traffic, oldest first (at most 2000).")
    async def series(self, info: Info, bucket: BucketSizeEnum = BucketSize.HOUR) -> list[TrafficPoint]:  # type: ignore[valid-type]
        seconds = BUCKET_SECONDS[BucketSize(bucket)]
        rows = await run_in_threadpool(
            flows.traffic, info.context.store, self.held, self.start, self.end, seconds
        )
        if len(rows) > MAX_POINTS:
            raise BadRequest(f"more than {MAX_POINTS} points: use bucket DAY or a narrower scope")
        return [TrafficPoint.build(row) for row in rows]


async def _interfaces(info: Info, instance_id: str) -> list[str]:
    cache: dict[str, asyncio.Task[dict[str, list[str]]]] = info.context.extras.setdefault("interfaces", {})
    if instance_id not in cache:
        cache[instance_id] = asyncio.ensure_future(
            run_in_threadpool(reads.interfaces_of, info.context.store, [instance_id])
        )
    return (await cache[instance_id]).get(instance_id, [])


async def _held(info: Info, instance_id: str) -> list[flows.InterfaceSpan]:
    """The instance's interfaces over the time each was its own (one read per request)."""
    cache: dict[str, asyncio.Task[dict[str, list[flows.InterfaceSpan]]]] = info.context.extras.setdefault(
        "interface_spans", {}
    )
    if instance_id not in cache:
        cache[instance_id] = asyncio.ensure_future(
            run_in_threadpool(reads.interface_spans, info.context.store, [instance_id])
        )
    return (await cache[instance_id]).get(instance_id, [])


@strawberry.type(description="Fields Ec2Instance adds to Principal (its identifier is the instance id).")
class InstanceFields:
    identifier: str

    @field(
        description="Network interfaces the instance is known to have had (flows, inventory, CloudTrail, "
        "findings)."
    )
    async def interfaces(self, info: Info) -> list[str]:
        return await _interfaces(info, self.identifier)

    @field(description="Private and public addresses the instance held, by source, over time.")
    async def addresses(self, info: Info) -> list[InstanceAddress]:
        spans = await run_in_threadpool(reads.address_spans, info.context.store, [self.identifier])
        return [
            InstanceAddress(
                address=s.address,
                kind=s.kind,
                source=s.source,
                interface_id=s.interface_id or None,
                valid_from=s.valid_from,
                valid_to=s.valid_to,
            )
            for s in spans
        ]

    @field(description="The instance in the operator's EC2 inventory, when one listed it.")
    async def inventory(self, info: Info) -> InstanceInventory | None:
        found = await run_in_threadpool(reads.inventory, info.context.store, [self.identifier])
        entry = found.get(self.identifier)
        if entry is None:
            return None
        return InstanceInventory(
            account_id=entry.account_id, region=entry.region, vpc_id=entry.vpc_id, subnet_id=entry.subnet_id,
            instance_type=entry.instance_type, image_id=entry.image_id, state=entry.state,
            launch_time=entry.launch_time, instance_profile_arn=entry.instance_profile_arn, name=entry.name,
            observed_at=entry.observed_at,
        )  # fmt: skip

    @field(description="Bytes and packets in and out, accepted and rejected flows (default: all retained).")
    async def network(self, info: Info, from_: From = None, to: datetime | None = None) -> NetworkSummary:
        start, end = scope(from_, to)
        held = await _held(info, self.identifier)
        points = await run_in_threadpool(flows.traffic, info.context.store, held, start, end, 86400)
        return NetworkSummary(
            start=start, end=end, interfaces=sorted({s.interface_id for s in held}), held=held,
            bytes_in=sum(p.bytes_in for p in points), bytes_out=sum(p.bytes_out for p in points),
            packets_in=sum(p.packets_in for p in points), packets_out=sum(p.packets_out for p in points),
            accepted_flows=sum(p.accepted_flows for p in points),
            rejected_flows=sum(p.rejected_flows for p in points),
            nodata_windows=sum(p.nodata_windows for p in points),
            skipdata_windows=sum(p.skipdata_windows for p in points),
        )  # fmt: skip

    @field(description="Remote addresses the instance exchanged traffic with, most bytes first.")
    async def remote_addresses(
        self, info: Info, first: int | None = None, after: str | None = None, from_: From = None,
        to: datetime | None = None,
    ) -> RemoteAddressConnection:  # fmt: skip
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        cursor = decode_cursor("remote", after, 2)
        position = (int(cursor[0]), str(cursor[1])) if cursor else None
        start, end = scope(from_, to)
        held = await _held(info, self.identifier)
        peers, more = await run_in_threadpool(
            flows.remote_peers, info.context.store, held, start, end, size, position
        )
        edges = [
            RemoteAddressEdge(
                node=RemoteAddress.build(p),
                cursor=encode_cursor("remote", p.bytes_in + p.bytes_out, p.address),
            )
            for p in peers
        ]
        return RemoteAddressConnection(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )


async def instance_network_deviations(
    info: Info, instance_id: str, from_: datetime | None, to: datetime | None
) -> list[Deviation]:
    """Remote addresses and ports new against the instance's own baseline (45 days before the
    scope; default scope: the last day with flows)."""
    held = await _held(info, instance_id)
    store = info.context.store
    if from_ is None and to is None:
        span = await run_in_threadpool(flows.activity_span, store, held)
        if span is None:
            return []
        end = span[1] + timedelta(hours=1)
        start = end - DEFAULT_DEVIATION_SCOPE
    else:
        end = storable_time(to, "to") if to else span_end_now()
        start = storable_time(from_, "from") if from_ else end - DEFAULT_DEVIATION_SCOPE
        if start >= end:
            raise BadRequest("`from` must be before `to`")
    return await run_in_threadpool(network_deviations, store, held, start, end)


def span_end_now() -> datetime:
    return scope(None, None)[1]
