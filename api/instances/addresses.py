"""The addresses an EC2 instance is known to have had, from every source that shows them.

Deviations (credentials used off-instance) compare a session's source addresses with these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from api.instances.reads import AddressSpan, address_spans
from clickhouse.client import Store

# A public address is the instance's while it runs (it changes on stop and start): one seen in an
# inventory, a finding or an association counts for this long on either side of the observation,
# so that a snapshot taken a few days after an incident still vouches for the address then.
PUBLIC_GRACE = timedelta(days=7)


def known_addresses(
    store: Store, instance_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, set[str]]:
    """For each instance, the private and public addresses it held at some time in [start, end).

    Sources: flow logs (instance-id field, interface mapping), the EC2 inventory the operator
    loaded, CloudTrail network-interface responses and GuardDuty findings. Private addresses
    belong to an interface for its whole life: they count whatever the time. Public addresses
    count when an observation falls within PUBLIC_GRACE of the range. An instance nothing is known
    about gets an empty set (no address vouches for it).
    """
    return held_addresses(address_spans(store, list(instance_ids)), instance_ids, start, end)


def held_addresses(
    spans: Sequence[AddressSpan], instance_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, set[str]]:
    """`known_addresses` from spans already read (callers asking about many ranges read them once)."""
    found: dict[str, set[str]] = {instance_id: set() for instance_id in instance_ids}
    for span in spans:
        if span.instance_id not in found:
            continue
        if span.kind != "public" or (
            span.valid_from - PUBLIC_GRACE < end and span.valid_to + PUBLIC_GRACE >= start
        ):
            found[span.instance_id].add(span.address)
    return found
