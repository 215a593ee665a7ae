"""Network deviations of an EC2 instance: remote addresses and ports new against its baseline.

The baseline is the instance's own accepted traffic (flowlog_remote_hourly, through its
interfaces) in the window before the scope. A remote address never seen there is
NEW_REMOTE_ADDRESS (value: the address); a known address reached on a service port never seen
with it is NEW_REMOTE_PORT (value: `<address>:<port>`). Ephemeral client ports are stored as 0 by
the rollup and never count. Credentials used off-instance are computed by the general deviations
machinery, which asks api.instances.addresses.known_addresses and, for the NAT gateways of the
instance's VPC, api.instances.reads.nat_addresses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from api.deviations.types import Baseline, BaselineLevel, Deviation, DeviationKind
from api.flowlogs import reads
from clickhouse.client import Store

BASELINE_DAYS = 45
MAX_DEVIATIONS = 100
_HEAVY_BYTES_OUT = 10 * 1024 * 1024


def network_deviations(
    store: Store,
    interfaces: reads.Interfaces,
    start: datetime,
    end: datetime,
    baseline_days: int = BASELINE_DAYS,
) -> list[Deviation]:
    """New remote addresses and ports of the interfaces (or of interface spans: the time each was the
    instance's) in [start, end) against the baseline window [start - baseline_days, start); the most
    recent first, at most MAX_DEVIATIONS."""
    if not interfaces:
        return []
    window_start = start - timedelta(days=baseline_days)
    seen_addresses, seen_ports = reads.contacts(store, interfaces, window_start, start)
    now_addresses, now_ports = reads.contacts(store, interfaces, start, end)
    span = reads.activity_span(store, interfaces)
    baseline = Baseline(
        level=BaselineLevel.INSTANCE,
        window_start=window_start,
        window_end=start,
        days_observed=reads.active_days(store, interfaces, window_start, start),
        complete=span is not None and span[0] <= window_start,
        count=0,
        total=sum(c.flows for c in seen_addresses),
    )
    known = {c.address for c in seen_addresses}
    known_ports = {(c.address, c.port) for c in seen_ports}
    found: list[Deviation] = []
    for contact in now_addresses:
        if contact.address in known:
            continue
        ports = sorted({c.port for c in now_ports if c.address == contact.address})
        found.append(
            Deviation(
                kind=DeviationKind.NEW_REMOTE_ADDRESS,
                value=contact.address,
                first_seen=contact.first_seen,
                severity=_severity(0.5, contact),
                detail=_detail(contact, ports),
                baselines=[baseline],
            )
        )
    for contact in now_ports:
        if contact.address in known and (contact.address, contact.port) not in known_ports:
            found.append(
                Deviation(
                    kind=DeviationKind.NEW_REMOTE_PORT,
                    value=f"{contact.address}:{contact.port}",
                    first_seen=contact.first_seen,
                    severity=_severity(0.4, contact),
                    detail=_detail(contact, [contact.port]),
                    baselines=[baseline],
                )
            )
    found.sort(key=lambda d: (d.first_seen, d.value), reverse=True)
    return found[:MAX_DEVIATIONS]


def _severity(base: float, contact: reads.Contact) -> float:
    # Much data sent to a peer never seen before is what exfiltration looks like.
    return min(1.0, base + (0.3 if contact.bytes_out >= _HEAVY_BYTES_OUT else 0.0))


def _detail(contact: reads.Contact, ports: Sequence[int]) -> str:
    shown = ", ".join(str(p) for p in ports) or "client ports only"
    return (
        f"{contact.flows} accepted flows, {contact.bytes_out:,} bytes out, {contact.bytes_in:,} bytes in; "
        f"remote ports: {shown}"
    )
