"""Deviations of a session: what it did that its baselines never showed, and what no one could do.

Baselines, first level first:
- PRINCIPAL_IN_ROLE: the sessions of the same role whose origin (resolved through lineage at query
  time, like everything about origins) is the session's origin;
- ROLE: every session of the role;
- ACCOUNT: every call of the account.
Each is read over the window of `window_days` whole days before the session's day, plus, for the
two role levels, the sessions that started earlier on the session's own day. A value is reported
when the first level that applies never saw it; the deviation carries every level with its count
(days on which the value was seen) so a reader sees whether it is new to the role or the account
as well. Sessions that are not role sessions (federation tokens, users' session tokens) are
compared with their account only.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar

from api.cloudtrail import lineage
from api.cloudtrail import reads as ct_reads
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.deviations import reads
from api.deviations.types import Baseline, BaselineLevel, Deviation, DeviationKind
from api.instances.addresses import held_addresses
from api.instances.reads import AddressSpan, NatAddress, address_spans, nat_addresses
from clickhouse.client import Store


@dataclass(frozen=True)
class Limits:
    """Tunable thresholds (API settings)."""

    window_days: int = 45
    travel_kmh: float = 1000.0
    # Below this distance two places are one for travel (geolocation of a city is approximate).
    travel_min_km: float = 500.0
    spike_ratio: float = 5.0
    spike_score: float = 3.5
    spike_min_days: int = 3


# Independent reads of a round run concurrently, each on a client of its own (Store pools them).
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deviations")
_K = TypeVar("_K")
# How far before a session travel looks for the origin's previous call.
TRAVEL_LOOKBACK = timedelta(hours=12)

_NEW_KIND = {
    "api": DeviationKind.NEW_API_CALL,
    "country": DeviationKind.NEW_COUNTRY,
    "city": DeviationKind.NEW_CITY,
    "asn": DeviationKind.NEW_ASN,
    "user_agent": DeviationKind.NEW_USER_AGENT,
}
# How unusual a value is by the widest level that never saw it.
_SEVERITY = {BaselineLevel.PRINCIPAL_IN_ROLE: 0.4, BaselineLevel.ROLE: 0.7, BaselineLevel.ACCOUNT: 1.0}
_KIND_WEIGHT = {"api": 1.0, "country": 1.0, "city": 0.6, "asn": 0.8, "user_agent": 0.5}


@dataclass
class Cache:
    """Lineages resolved for one request (triage computes many sessions of the same roles)."""

    lineages: dict[str, lineage.Lineage] = field(default_factory=dict)

    def resolve(self, store: Store, keys: Sequence[str]) -> dict[str, lineage.Lineage]:
        missing = [k for k in keys if k not in self.lineages]
        if missing:
            self.lineages.update(lineage.resolve(store, missing))
        return {k: self.lineages[k] for k in keys if k in self.lineages}


@dataclass(frozen=True)
class _Level:
    level: BaselineLevel
    start: datetime
    end: datetime
    days: dict[date, reads.DayRow]
    complete: bool

    def count(self, kind: str, value: str) -> int:
        return sum(1 for row in self.days.values() if value in row.values[kind])

    def baseline(self, kind: str, value: str) -> Baseline:
        return Baseline(
            level=self.level,
            window_start=self.start,
            window_end=self.end,
            days_observed=len(self.days),
            complete=self.complete,
            count=self.count(kind, value),
            total=sum(row.calls for row in self.days.values()),
        )


def _merge_days(rows: Sequence[reads.DayRow]) -> dict[date, reads.DayRow]:
    merged: dict[date, reads.DayRow] = {}
    for row in rows:
        current = merged.get(row.day)
        if current is None:
            merged[row.day] = row
            continue
        values = {k: current.values[k] | row.values[k] for k in current.values}
        merged[row.day] = reads.DayRow(row.day, row.mine, row.prior, current.calls + row.calls, values)
    return merged


@dataclass
class _Plan:
    """One session being computed: what its first reads said, and the keys of its origin in its role."""

    key: str
    start: datetime
    end: datetime
    window_start: datetime
    account: str
    role: str
    shown: list[reads.Shown]
    line: lineage.Lineage | None
    mine: list[str]

    @property
    def origin(self) -> PrincipalRef | None:
        return self.line.origin if self.line else None

    @property
    def on_instance(self) -> bool:
        return self.origin is not None and self.origin.kind is PrincipalKind.EC2_INSTANCE


def session_deviations(
    store: Store, key: str, limits: Limits = Limits(), cache: Cache | None = None
) -> list[Deviation]:
    """Every deviation of one session, most severe first (`sessions_deviations` of one key)."""
    return sessions_deviations(store, [key], limits, cache).get(key, [])


def sessions_deviations(
    store: Store, keys: Sequence[str], limits: Limits = Limits(), cache: Cache | None = None
) -> dict[str, list[Deviation]]:
    """Every deviation of each session, most severe first; sessions the store does not know get none.

    The same reads serve every session: four rounds of a few queries each, however many sessions
    (a role's or account's days are read once over the union of its sessions' windows and sliced
    per session here; travel and address checks read each session's calls in one query for all).
    Independent reads of a round run concurrently (the store gives each thread a client of its own).
    """
    cache = cache or Cache()
    keys = list(dict.fromkeys(keys))
    if not keys:
        return {}
    usage_f = _POOL.submit(ct_reads.session_usage, store, keys)
    line_f = _POOL.submit(cache.resolve, store, keys)
    shown_f = _POOL.submit(reads.session_values, store, keys)
    usages, shown = usage_f.result(), shown_f.result()
    plans = [_plan(key, usages[key], shown.get(key, []), limits) for key in keys if key in usages]
    if not plans:
        return {key: [] for key in keys}
    every_shown = [item for plan in plans for item in plan.shown]
    role_ranges = _ranges(((p.account, p.role), p.window_start.date(), p.end.date()) for p in plans if p.role)
    account_ranges = _ranges((p.account, p.window_start.date(), p.start.date()) for p in plans)
    role_f = _POOL.submit(reads.role_key_days, store, role_ranges, every_shown)
    account_f = _POOL.submit(reads.account_days, store, account_ranges, every_shown)
    history_f = _POOL.submit(reads.history_starts, store, sorted(role_ranges), sorted(account_ranges))
    lines = line_f.result()
    role_rows = role_f.result()
    in_window: dict[str, list[str]] = {}
    for plan in plans:
        plan.line = lines.get(plan.key)
        if plan.origin is not None and plan.role:
            in_window[plan.key] = _role_keys(role_rows.get((plan.account, plan.role), []), plan)
    resolved = cache.resolve(store, sorted({k for ks in in_window.values() for k in ks}))
    for plan in plans:
        origin, role_keys = plan.origin, in_window.get(plan.key, [])
        if origin is not None and role_keys:
            plan.mine = [k for k in role_keys if _same(resolved.get(k), origin)] or [plan.key]
    travel_asks = [_travel_ask(p, role_rows.get((p.account, p.role), [])) for p in plans]
    travel_f = _POOL.submit(reads.travel_stops, store, travel_asks)
    on_instance = [p for p in plans if p.on_instance]
    asks = [reads.Around(p.key, tuple(sorted({*p.mine, p.key})), p.window_start, p.end) for p in on_instance]
    addresses_f = _POOL.submit(reads.session_addresses, store, asks)
    instances = sorted({p.origin.identifier for p in on_instance if p.origin is not None})
    spans_f = _POOL.submit(address_spans, store, instances)
    nat_f = _POOL.submit(nat_addresses, store, instances)
    role_first, account_first = history_f.result()
    account_rows = account_f.result()
    travel = dict(zip((p.key for p in plans), travel_f.result(), strict=True))
    addresses = dict(zip((p.key for p in on_instance), addresses_f.result(), strict=True))
    spans, nats = spans_f.result(), nat_f.result()
    found: dict[str, list[Deviation]] = {key: [] for key in keys}
    for plan in plans:
        role_complete = _on_or_before(role_first.get((plan.account, plan.role)), plan.window_start)
        account_complete = _on_or_before(account_first.get(plan.account), plan.window_start)
        found[plan.key] = _deviations(
            plan, role_rows.get((plan.account, plan.role), []), account_rows.get(plan.account, []),
            role_complete, account_complete, travel[plan.key], addresses.get(plan.key), spans,
            nats.get(plan.origin.identifier, []) if plan.on_instance and plan.origin else [], limits,
        )  # fmt: skip
    return found


def _plan(key: str, usage: ct_reads.SessionUsage, shown: list[reads.Shown], limits: Limits) -> _Plan:
    start = ct_reads.utc(usage.first_seen)
    window_start = datetime.combine(
        start.date() - timedelta(days=limits.window_days), datetime.min.time(), UTC
    )
    return _Plan(
        key=key, start=start, end=ct_reads.utc(usage.last_seen), window_start=window_start,
        account=usage.account_id, role=usage.role_arn, shown=shown, line=None, mine=[key],
    )  # fmt: skip


def _ranges(items: Iterable[tuple[_K, date, date]]) -> dict[_K, tuple[date, date]]:
    """The smallest range covering every range of each group."""
    found: dict[_K, tuple[date, date]] = {}
    for group, start, end in items:
        low, high = found.get(group, (start, end))
        found[group] = (min(low, start), max(high, end))
    return found


def _on_or_before(first: date | None, window_start: datetime) -> bool:
    return first is not None and first <= window_start.date()


def _role_keys(rows: Sequence[reads.KeyDay], plan: _Plan) -> list[str]:
    """Keys of the role's sessions active on the days of the plan's window, the MAX_ROLE_KEYS latest."""
    low, high = plan.window_start.date(), plan.end.date()
    latest: dict[str, date] = {}
    for row in rows:
        if low <= row.day <= high:
            latest[row.session_key] = max(latest.get(row.session_key, row.day), row.day)
    newest = sorted(latest, key=lambda k: (-latest[k].toordinal(), k))[: reads.MAX_ROLE_KEYS]
    return sorted(newest)


def _travel_ask(plan: _Plan, rows: Sequence[reads.KeyDay]) -> reads.Around:
    """The calls travel reads for the plan: its origin's keys in the role, its own and its ancestors'.
    Keys of the role without calls on the days of the lookback (the rollup has a row for every day
    a role session called) are left out: they cannot have calls there."""
    start = plan.start - TRAVEL_LOOKBACK
    low, high = start.date(), plan.end.date()
    mine = set(plan.mine)
    active = {row.session_key for row in rows if row.session_key in mine and low <= row.day <= high}
    ancestors = plan.line.ancestors if plan.line else ()
    keys = tuple(sorted({*active, plan.key, *ancestors}))
    return reads.Around(plan.key, keys, start, plan.end)


def _wanted(shown: Sequence[reads.Shown]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {kind: set() for kind in reads.KINDS}
    for item in shown:
        wanted[item.kind].add(item.value)
    return wanted


def _role_days(plan: _Plan, rows: Sequence[reads.KeyDay]) -> list[reads.DayRow]:
    """The role's days of the plan's window, split by origin (mine) and by being before the session."""
    wanted = _wanted(plan.shown)
    mine = set(plan.mine)
    low, high = plan.window_start.date(), plan.end.date()
    grouped: dict[tuple[date, bool, bool], tuple[int, dict[str, set[str]]]] = {}
    for row in rows:
        if not low <= row.day <= high:
            continue
        prior = row.session_key != plan.key and (
            row.day < plan.start.date() or ct_reads.utc(row.first_seen) < plan.start
        )
        group = (row.day, row.session_key in mine, prior)
        calls, values = grouped.get(group, (0, {k: set() for k in wanted}))
        for kind, seen in row.values.items():
            values[kind] |= seen & wanted[kind]
        grouped[group] = (calls + row.calls, values)
    return [
        reads.DayRow(day, is_mine, prior, calls, {k: frozenset(v) for k, v in values.items()})
        for (day, is_mine, prior), (calls, values) in sorted(grouped.items())
    ]


def _account_days(plan: _Plan, rows: Sequence[reads.DayRow]) -> list[reads.DayRow]:
    """The account's days of the plan's window, before the session's day."""
    wanted = _wanted(plan.shown)
    low, high = plan.window_start.date(), plan.start.date()
    return [
        reads.DayRow(row.day, False, True, row.calls, {k: v & wanted[k] for k, v in row.values.items()})
        for row in rows
        if low <= row.day < high
    ]


def _deviations(
    plan: _Plan, role_key_days: Sequence[reads.KeyDay], account_key_days: Sequence[reads.DayRow],
    role_complete: bool, account_complete: bool, stops: Sequence[reads.Stop],
    calls: Sequence[reads.LocatedCall] | None, spans: Sequence[AddressSpan], nats: Sequence[NatAddress],
    limits: Limits,
) -> list[Deviation]:  # fmt: skip
    """One session's deviations from what the batched reads returned."""
    start, end, window_start, origin = plan.start, plan.end, plan.window_start, plan.origin
    levels: list[_Level] = []
    role_rows: list[reads.DayRow] = []
    if plan.role:
        role_rows = _role_days(plan, role_key_days)
        prior = [r for r in role_rows if r.prior]
        if origin is not None:
            levels.append(_Level(BaselineLevel.PRINCIPAL_IN_ROLE, window_start, start,
                                 _merge_days([r for r in prior if r.mine]), role_complete))  # fmt: skip
        levels.append(_Level(BaselineLevel.ROLE, window_start, start, _merge_days(prior), role_complete))
    account_days = _merge_days(_account_days(plan, account_key_days))
    levels.append(_Level(BaselineLevel.ACCOUNT, window_start, start, account_days, account_complete))
    found = _new_values(plan.shown, levels)
    if plan.role and origin is not None:
        found += _volume(role_rows, start, end, window_start, role_complete, limits)
    found += _travel(stops, limits)
    if calls is not None and origin is not None:
        known = held_addresses(spans, [origin.identifier], window_start, end).get(origin.identifier, set())
        found += _off_instance(known, nats, calls, plan.key, origin.identifier, window_start, end)
    return sorted(found, key=lambda d: (-d.severity, d.kind, d.first_seen or start, d.value))


def _same(line: lineage.Lineage | None, origin: PrincipalRef) -> bool:
    return (
        line is not None
        and line.origin is not None
        and (
            line.origin.kind,
            line.origin.identifier,
        )
        == (origin.kind, origin.identifier)
    )


def _new_values(shown: Sequence[reads.Shown], levels: Sequence[_Level]) -> list[Deviation]:
    found = []
    first_level = levels[0]
    for item in shown:
        if first_level.count(item.kind, item.value) > 0:
            continue
        widest = first_level.level
        for level in levels:
            if level.count(item.kind, item.value) == 0:
                widest = level.level
        severity = _SEVERITY[widest] * _KIND_WEIGHT[item.kind]
        if not first_level.complete:
            # The history is younger than the window: "new" may only be new to the data loaded.
            severity *= 0.5
        found.append(
            Deviation(
                kind=_NEW_KIND[item.kind],
                value=item.value,
                first_seen=ct_reads.utc(item.first_seen),
                severity=round(severity, 3),
                detail=f"in {item.calls} call(s); new to the {widest.value.lower().replace('_', ' ')}",
                baselines=[level.baseline(item.kind, item.value) for level in levels],
                event_ids=list(item.event_ids),
            )
        )
    return found


def _volume(
    rows: Sequence[reads.DayRow], start: datetime, end: datetime, window_start: datetime, complete: bool,
    limits: Limits,
) -> list[Deviation]:  # fmt: skip
    """Calls of the origin in the role per day, on the session's days, against the daily distribution
    of the origin in the role before the session's first day (days with activity)."""
    daily: dict[date, int] = {}
    for row in rows:
        if row.mine:
            daily[row.day] = daily.get(row.day, 0) + row.calls
    history = [calls for day, calls in daily.items() if day < start.date()]
    if len(history) < limits.spike_min_days:
        return []
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    spread = 1.4826 * mad or max(1.0, 0.1 * median)
    found = []
    day = start.date()
    while day <= end.date():
        calls = daily.get(day, 0)
        ratio = calls / median if median else math.inf
        score = (calls - median) / spread
        if ratio >= limits.spike_ratio and score >= limits.spike_score:
            when = datetime.combine(day, datetime.min.time(), UTC)
            baseline = Baseline(
                level=BaselineLevel.PRINCIPAL_IN_ROLE, window_start=window_start, window_end=start,
                days_observed=len(history), complete=complete, count=int(median), total=sum(history),
            )  # fmt: skip
            found.append(
                Deviation(
                    kind=DeviationKind.VOLUME_SPIKE,
                    value=day.isoformat(),
                    first_seen=max(when, start),
                    severity=round(min(1.0, 0.5 + math.log10(ratio) / 4), 3),
                    detail=f"{calls} calls that day; daily median {median:g} "
                    f"(ratio {ratio:.1f}, robust score {score:.1f})",
                    baselines=[baseline],
                )
            )
        day += timedelta(days=1)
    return found


def _km(a: reads.Stop, b: reads.Stop) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, h)))


def _travel(stops: Sequence[reads.Stop], limits: Limits) -> list[Deviation]:
    """Consecutive places of the origin, the later one with this session's calls, too far apart for
    the time between them. An address pair that keeps alternating (two egress points: a VPN beside a
    direct link) is reported at lower severity."""
    switches: dict[frozenset[str], int] = {}
    hops: list[tuple[reads.Stop, reads.Stop, float, float]] = []
    for previous, stop in itertools.pairwise(stops):
        if stop.source_ip == previous.source_ip:
            continue
        pair = frozenset((previous.source_ip, stop.source_ip))
        switches[pair] = switches.get(pair, 0) + 1
        distance = _km(previous, stop)
        hours = max((stop.first - previous.last).total_seconds(), 1.0) / 3600
        speed = distance / hours
        if stop.own and distance >= limits.travel_min_km and speed > limits.travel_kmh:
            hops.append((previous, stop, distance, speed))
    found: dict[str, Deviation] = {}
    for before, after, distance, speed in hops:
        if after.source_ip in found:
            continue
        alternating = switches.get(frozenset((before.source_ip, after.source_ip)), 0) >= 3
        minutes = max((after.first - before.last).total_seconds(), 0) / 60
        note = "; the two addresses alternate (VPN or two egress points?)" if alternating else ""
        found[after.source_ip] = Deviation(
            kind=DeviationKind.IMPOSSIBLE_TRAVEL,
            value=after.source_ip,
            first_seen=ct_reads.utc(after.first),
            severity=0.5 if alternating else 0.9,
            detail=f"from {before.source_ip} ({_place(before)}) to {after.source_ip} ({_place(after)}): "
            f"{distance:.0f} km in {minutes:.0f} min ({speed:.0f} km/h){note}",
            event_ids=[before.call_id, after.call_id],
        )
    return list(found.values())


def key_travel(
    store: Store, identity_arn: str, start: datetime, end: datetime, limits: Limits
) -> list[Deviation]:
    """Impossible travel on the long-term keys of an IAM user or root (calls made without a session)."""
    asks = [reads.Around(key, (key,), start, end) for key in reads.long_term_keys(store, identity_arn)]
    return [d for stops in reads.travel_stops(store, asks) for d in _travel(stops, limits)]


def _place(call: reads.LocatedCall | reads.Stop) -> str:
    return f"{call.city}, {call.country}" if call.city else call.country or "unknown"


def _off_instance(
    known: set[str],
    nats: Sequence[NatAddress],
    calls: Sequence[reads.LocatedCall],
    key: str,
    instance_id: str,
    window_start: datetime,
    end: datetime,
) -> list[Deviation]:
    """Instance credentials used from an address that is not the instance's.

    The instance's addresses: those it is known to have had (flow logs, inventory), and those most of
    its other sessions in the window used (every refreshed credential is used from the instance).
    The session's own addresses are never trusted on their own: a stolen key can be used by the
    attacker before the instance uses it. A call from an address of a NAT gateway of the instance's
    VPC, made while the gateway had it, is the instance's own (its path to AWS from a private
    subnet). Calls from AWS service hostnames or `AWS Internal`, calls a service made for the
    session (invokedBy) and VPC-endpoint calls are left out (already out of `calls`).
    """
    by_session: dict[str, set[str]] = {}
    for call in calls:
        by_session.setdefault(call.session_key, set()).add(call.source_ip)
    others = [ips for k, ips in by_session.items() if k != key]
    home = set(known)
    if others:
        needed = max(1, math.ceil(len(others) / 2))
        counts: dict[str, int] = {}
        for ips in others:
            for ip in ips:
                counts[ip] = counts.get(ip, 0) + 1
        home |= {ip for ip, n in counts.items() if n >= needed}
    if not home and not nats:
        return []
    found: dict[str, Deviation] = {}
    for call in calls:
        if call.session_key != key or call.source_ip in home or call.source_ip in found:
            continue
        outside = _outside_nat(nats, call)
        if not outside:
            continue
        found[call.source_ip] = Deviation(
            kind=DeviationKind.CREDENTIALS_OFF_INSTANCE,
            value=call.source_ip,
            first_seen=outside[0][0],
            severity=1.0,
            detail=f"instance {instance_id} credentials used from {call.source_ip} ({_place(call)}); "
            f"the instance's addresses: {', '.join(sorted(home)) or 'none known'}"
            + (f"; NAT gateways of its VPC: {', '.join(sorted({n.address for n in nats}))}" if nats else ""),
            baselines=[
                Baseline(
                    level=BaselineLevel.INSTANCE,
                    window_start=window_start,
                    window_end=end,
                    days_observed=0,
                    complete=bool(known),
                    count=0,
                    total=len(others),
                )
            ],
            # The session's calls from that address that no NAT gateway vouches for (of the first
            # MAX_CALLS_PER_ADDRESS and the last).
            event_ids=[call_id for _, call_id in outside],
        )
    return list(found.values())


def _outside_nat(nats: Sequence[NatAddress], call: reads.LocatedCall) -> list[tuple[datetime, str]]:
    """The known calls of a (key, address) made while no NAT gateway of the instance's VPC had the
    address, oldest first: the first few and the last, so that an address a gateway gave up during
    the session is caught even after many calls it vouched for."""
    known = list(zip(call.call_times, call.call_ids, strict=False)) or [(call.event_time, call.call_id)]
    if call.last is not None and call.last[1] not in {call_id for _, call_id in known}:
        known.append(call.last)
    spans = [n for n in nats if n.address == call.source_ip]
    outside = []
    for when, call_id in known:
        at = ct_reads.utc(when)
        if not any(n.valid_from <= at < n.valid_to for n in spans):
            outside.append((at, call_id))
    return outside


def in_scope(
    deviations: Sequence[Deviation], start: datetime | None, end: datetime | None
) -> list[Deviation]:
    """The deviations first seen in [start, end) (all when no bound is given)."""
    return [
        d for d in deviations
        if d.first_seen is None
        or ((start is None or d.first_seen >= start) and (end is None or d.first_seen < end))
    ]  # fmt: skip
