"""Deviations in GraphQL: the resolvers RoleSession and principals delegate to, and the triage list."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from starlette.concurrency import run_in_threadpool

from api.cloudtrail import reads as ct_reads
from api.cloudtrail.schema import scope
from api.cloudtrail.types import RoleSession
from api.context import Info
from api.deviations import reads
from api.deviations.compute import (
    Cache,
    Limits,
    in_scope,
    key_travel,
    session_deviations,
    sessions_deviations,
)
from api.deviations.types import Deviation, DeviationKind, DeviationKindEnum
from api.fields import field
from api.pagination import page_size, storable_time
from api.scoping import Accounts, visible_keys
from api.settings import ApiSettings
from clickhouse.client import Store

From = Annotated[datetime | None, strawberry.argument(name="from")]


def visible_deviations(accounts: Accounts, found: Sequence[Deviation]) -> list[Deviation]:
    """The deviations a token limited to `accounts` may see, by the rule of the call lists (a
    call's recipient account): each keeps only the calls it may list, and one that rests on a call
    it may not see is left out (travel rests on both its calls; the other kinds on any of theirs).
    Deviations without calls (the network kinds) are about an entity the token already sees."""
    if accounts is None:
        return list(found)
    kept = []
    for deviation in found:
        ids = [i for i in deviation.event_ids if i.split(":", 1)[0] in accounts]
        every = deviation.kind == DeviationKind.IMPOSSIBLE_TRAVEL
        if deviation.event_ids and (not ids or (every and len(ids) < len(deviation.event_ids))):
            continue
        kept.append(dataclasses.replace(deviation, event_ids=ids))
    return kept


def limits(settings: ApiSettings) -> Limits:
    return Limits(window_days=settings.baseline_days, travel_kmh=settings.travel_speed_kmh)


def _cache(info: Info) -> Cache:
    cache: Cache = info.context.extras.setdefault("deviation_cache", Cache())
    return cache


def _bounds(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    return (storable_time(start, "from") if start else None, storable_time(end, "to") if end else None)


async def session_deviations_field(
    info: Info, key: str, start: datetime | None, end: datetime | None
) -> list[Deviation]:
    """RoleSession.deviations: the session's deviations first seen in [from, to)."""
    low, high = _bounds(start, end)
    found = await run_in_threadpool(
        session_deviations, info.context.store, key, limits(info.context.settings), _cache(info)
    )
    return in_scope(visible_deviations(info.context.accounts, found), low, high)


def merge(per_session: Sequence[Sequence[Deviation]]) -> list[Deviation]:
    """One deviation per (kind, value) across sessions: the earliest, with the calls of all."""
    merged: dict[tuple[str, str], Deviation] = {}
    for deviations in per_session:
        for d in deviations:
            current = merged.get((str(d.kind), d.value))
            if current is None:
                merged[(str(d.kind), d.value)] = d
                continue
            first, other = (current, d) if _earlier(current, d) else (d, current)
            ids = list(dict.fromkeys([*first.event_ids, *other.event_ids]))[:5]
            merged[(str(d.kind), d.value)] = Deviation(
                kind=first.kind, value=first.value, first_seen=first.first_seen,
                severity=max(first.severity, other.severity), detail=first.detail, baselines=first.baselines,
                event_ids=ids,
            )  # fmt: skip
    return sorted(merged.values(), key=lambda d: (-d.severity, str(d.kind), d.value))


def _earlier(a: Deviation, b: Deviation) -> bool:
    if a.first_seen is None:
        return False
    return b.first_seen is None or a.first_seen <= b.first_seen


def _many(store: Store, keys: Sequence[str], settings_limits: Limits, cache: Cache) -> list[list[Deviation]]:
    """Each session's deviations, in the order of `keys` (a bounded number of queries for all)."""
    found = sessions_deviations(store, keys, settings_limits, cache)
    return [found.get(key, []) for key in keys]


async def principal_deviations_field(
    info: Info,
    keys: Sequence[str],
    start: datetime | None,
    end: datetime | None,
    direct_arn: str | None = None,
) -> list[Deviation]:
    """Principal.deviations: its sessions' deviations (the newest sessions, up to the scan limit),
    and, for a user or root (`direct_arn`), impossible travel on its own long-term keys in the scope
    (default: the last ROLETRAIL_DEFAULT_SCOPE_DAYS days)."""
    low, high = _bounds(start, end)
    usages = [u for u in await info.context.loaders.usage.load_many(list(keys)) if u is not None]
    active = [
        u for u in usages
        if (low is None or ct_reads.utc(u.last_seen) >= low)
        and (high is None or ct_reads.utc(u.first_seen) < high)
    ]  # fmt: skip
    active.sort(key=lambda u: u.first_seen, reverse=True)
    wanted = [u.session_key for u in active[: info.context.settings.deviation_scan_limit]]
    found = await run_in_threadpool(
        _many, info.context.store, wanted, limits(info.context.settings), _cache(info)
    )
    if direct_arn:
        scope_start, scope_end = scope(info, start, end)
        found.append(
            await run_in_threadpool(
                key_travel,
                info.context.store,
                direct_arn,
                scope_start,
                scope_end,
                limits(info.context.settings),
            )
        )
    return in_scope(merge([visible_deviations(info.context.accounts, each) for each in found]), low, high)


def _triage_keys(
    store: Store, start: datetime, end: datetime, account_id: str | None, role_arn: str | None,
    settings: ApiSettings,
) -> list[str]:  # fmt: skip
    """The sessions a triage list examines: first those whose role never showed some of their values
    in the window before the scope, then the newest of the scope, up to the scan limit."""
    limit = settings.deviation_scan_limit
    candidates = reads.triage_candidates(
        store, start=start, end=end, window_days=settings.baseline_days, account_id=account_id,
        role_arn=role_arn, limit=limit,
    )  # fmt: skip
    page = ct_reads.list_sessions(
        store, account_id=account_id, role_arn=role_arn, start=start, end=end, first=limit, after=None
    )
    return list(dict.fromkeys([*candidates, *(u.session_key for u in page.items)]))[:limit]


class TriageOrder(Enum):
    MOST_SEVERE = "MOST_SEVERE"
    MOST_DEVIATIONS = "MOST_DEVIATIONS"


TriageOrderEnum = strawberry.enum(TriageOrder, name="TriageOrder")


@strawberry.type(description="A session with what is unusual about it (a triage list entry).")
class SessionDeviations:
    session: RoleSession
    deviation_count: int
    max_severity: float
    kinds: list[DeviationKindEnum]  # type: ignore[valid-type]
    deviations: list[Deviation]


@strawberry.type
class Query:
    @field(
        description="Triage: sessions active in a scope (default: the last 90 days) with the most, or the "
        "most severe, deviations. The newest sessions of the scope are examined, up to "
        "ROLETRAIL_DEVIATION_SCAN_LIMIT; sessions without deviations are left out."
    )
    async def deviating_sessions(
        self,
        info: Info,
        account_id: str | None = None,
        role_arn: str | None = None,
        from_: From = None,
        to: datetime | None = None,
        first: int | None = None,
        order_by: TriageOrderEnum = TriageOrder.MOST_SEVERE,  # type: ignore[valid-type]
    ) -> list[SessionDeviations]:
        settings = info.context.settings
        size = page_size(first, settings.default_page_size, settings.max_page_size)
        start, end = scope(info, from_, to)
        keys = await run_in_threadpool(
            _triage_keys, info.context.store, start, end, account_id, role_arn, settings
        )
        if info.context.accounts is not None:
            visible = await run_in_threadpool(visible_keys, info.context.store, keys, info.context.accounts)
            keys = [key for key in keys if key in visible]
        found = await run_in_threadpool(_many, info.context.store, keys, limits(settings), _cache(info))
        usages = await info.context.loaders.usage.load_many(keys)
        issuances = await info.context.loaders.issuance.load_many(keys)
        entries = []
        for key, usage, issuance, everything in zip(keys, usages, issuances, found, strict=True):
            deviations = visible_deviations(info.context.accounts, everything)
            if not deviations:
                continue
            entries.append(
                SessionDeviations(
                    session=RoleSession.build(key, usage, issuance),
                    deviation_count=len(deviations),
                    max_severity=max(d.severity for d in deviations),
                    kinds=sorted({d.kind for d in deviations}, key=str),
                    deviations=deviations,
                )
            )
        severe = order_by == TriageOrder.MOST_SEVERE or str(order_by) == "MOST_SEVERE"
        entries.sort(
            key=lambda e: (
                (-e.max_severity, -e.deviation_count) if severe else (-e.deviation_count, -e.max_severity)
            )
        )
        return entries[:size]
