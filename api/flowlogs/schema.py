"""Resolver-ready functions of the flow log slice for other types (the IP address entity).

`address_talkers` answers "which instances talked to this address" from the flow rollups; the
IpAddress type wires it in as a field (`talkers(from, to, first)`), so it takes the same
arguments a resolver gets.
"""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool

from api.context import Info
from api.flowlogs import reads
from api.flowlogs.types import AddressTalker, scope
from api.instances.reads import instances_of_interfaces
from api.pagination import page_size


async def address_talkers(
    info: Info,
    address: str,
    from_: datetime | None = None,
    to: datetime | None = None,
    first: int | None = None,
) -> list[AddressTalker]:
    """Interfaces and instances that exchanged traffic with `address`, most bytes first."""
    settings = info.context.settings
    size = page_size(first, settings.default_page_size, settings.max_page_size)
    start, end = scope(from_, to)
    store = info.context.store
    talkers = await run_in_threadpool(reads.address_talkers, store, address.strip(), start, end, size)
    # Flows without the instance-id field: the instance that held the interface when it last talked.
    unmapped = {t.interface_id: t.last_seen for t in talkers if not t.instance_id}
    owners = (
        await run_in_threadpool(instances_of_interfaces, store, list(unmapped), unmapped) if unmapped else {}
    )
    return [AddressTalker.build(t, t.instance_id or owners.get(t.interface_id, "")) for t in talkers]
