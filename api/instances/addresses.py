"""The addresses an EC2 instance is known to have had, from every source that shows them.

Deviations (credentials used off-instance) compare a session's source addresses with these.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from clickhouse.client import Store


def known_addresses(
    store: Store, instance_ids: Sequence[str], start: datetime, end: datetime
) -> dict[str, set[str]]:
    """For each instance, the private and public addresses it held at some time in [start, end).

    Sources: flow logs (instance-id field, interface mapping), the EC2 inventory the operator
    loaded, CloudTrail network-interface responses and GuardDuty findings. Until flow and inventory
    data are loaded this knows nothing (an empty set per instance).
    """
    del store, start, end
    return {instance_id: set() for instance_id in instance_ids}
