"""Read functions of deviations: what a session showed, and what its baselines hold.

Every read serves many sessions at once, so that a principal's or a triage list's deviations take
a bounded number of queries however many sessions they cover: the sessions' own calls (by key),
their roles' days per session (cloudtrail_role_days, by account + role over the union of the
sessions' windows; compute slices each session's window and splits by origin), their accounts'
days (cloudtrail_account_days), where each role's and account's history starts, and, for travel
and instance checks, the located calls of each session's keys around it (one scan joined to the
(key, session) pairs). Every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from clickhouse import tables
from clickhouse.client import Store

T_EVENTS = tables.CLOUDTRAIL_EVENTS
T_ROLE_DAYS = tables.CLOUDTRAIL_ROLE_DAYS
T_ACCOUNT_DAYS = tables.CLOUDTRAIL_ACCOUNT_DAYS
# The values a session shows, by kind (the same expressions as the rollups' views).
KINDS = ("api", "country", "city", "asn", "user_agent")
# How many call ids a deviation carries (earliest first).
MAX_EVENT_IDS = 5
# Calls read for travel and address checks around one session; beyond it the check says so.
MAX_LOCATED_CALLS = 50_000
# Calls listed for one address of a session (off-instance use shows the attacker's calls).
MAX_CALLS_PER_ADDRESS = 20


@dataclass(frozen=True)
class Shown:
    """One value a session showed: when first, and the ids of its first calls."""

    kind: str
    value: str
    first_seen: datetime
    calls: int
    event_ids: tuple[str, ...]


def session_values(store: Store, keys: Sequence[str]) -> dict[str, list[Shown]]:
    """Every API, country, city, ASN and user agent each session showed (one query, by their keys)."""
    if not keys:
        return {}
    rows = store.read(
        f"""SELECT session_key, kv.1 AS kind, kv.2 AS value, min(event_time), uniqExact(id),
            arraySlice(arrayDistinct(arrayMap(x -> x.2, arraySort(groupArray((event_time, id))))),
                       1, {{ids:UInt32}})
        FROM (
            SELECT session_key, event_time, concat(recipient_account_id, ':', event_id) AS id,
                arrayJoin([
                    ('api', concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)),
                    ('country', toString(source_country)),
                    ('city', if(source_city != '' AND source_country != '',
                                concat(source_city, ', ', source_country), '')),
                    ('asn', if(source_asn != 0, toString(source_asn), '')),
                    ('user_agent', user_agent)]) AS kv
            FROM {T_EVENTS} WHERE session_key IN {{keys:Array(String)}}
        )
        WHERE kv.2 != ''
        GROUP BY session_key, kind, value
        ORDER BY session_key, kind, value""",
        {"keys": list(keys), "ids": MAX_EVENT_IDS},
    )
    found: dict[str, list[Shown]] = {key: [] for key in keys}
    for key, k, v, first, n, ids in rows:
        item = Shown(str(k), str(v), first, int(n), tuple(str(i) for i in ids))
        found.setdefault(str(key), []).append(item)
    return found


# Sessions of one role whose origins are resolved for a baseline: a busy role (instance profiles,
# Lambda functions) has tens of thousands in a window, and resolving them all takes seconds.
MAX_ROLE_KEYS = 2000


@dataclass(frozen=True)
class DayRow:
    """One day of a baseline: its calls and which of the wanted values it saw.

    `mine`: the rows of the keys whose origin is the session's (the principal-in-role level);
    `prior`: rows before the session (earlier days, or earlier sessions on its first day).
    """

    day: date
    mine: bool
    prior: bool
    calls: int
    values: dict[str, frozenset[str]]


def _wanted(shown: Sequence[Shown]) -> dict[str, list[str]]:
    wanted: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for item in shown:
        wanted[item.kind].append(item.value)
    return wanted


_VALUE_COLUMNS = (("api", "apis"), ("country", "countries"), ("city", "cities"), ("asn", "asns"),
                  ("user_agent", "user_agents"))  # fmt: skip


@dataclass(frozen=True)
class KeyDay:
    """One session of a role on one day: when it first called that day, its calls, and which of the
    wanted values it saw (a session's role baselines are sums of these, sliced to its window)."""

    day: date
    session_key: str
    first_seen: datetime
    calls: int
    values: dict[str, frozenset[str]]


Role = tuple[str, str]


def role_key_days(
    store: Store, ranges: Mapping[Role, tuple[date, date]], shown: Sequence[Shown]
) -> dict[Role, list[KeyDay]]:
    """The days [start, end] of each (account, role), per session (one query for every role)."""
    if not ranges:
        return {}
    roles = sorted(ranges)
    columns = ", ".join(
        f"arrayIntersect(groupUniqArrayMerge({column}), {{w_{kind}:Array(String)}})"
        for kind, column in _VALUE_COLUMNS
    )
    rows = store.read(
        f"""WITH indexOf({{roles:Array(Tuple(String, String))}}, (account_id, role_arn)) AS i
        SELECT account_id, role_arn, day, session_key, min(first_seen), uniqExactMerge(calls), {columns}
        FROM {T_ROLE_DAYS}
        WHERE (account_id, role_arn) IN {{roles:Array(Tuple(String, String))}}
          AND day >= {{starts:Array(Date)}}[i] AND day <= {{ends:Array(Date)}}[i]
        GROUP BY account_id, role_arn, day, session_key ORDER BY account_id, role_arn, day, session_key""",
        {
            "roles": roles, "starts": [ranges[r][0] for r in roles], "ends": [ranges[r][1] for r in roles],
            **{f"w_{kind}": values for kind, values in _wanted(shown).items()},
        },
    )  # fmt: skip
    found: dict[Role, list[KeyDay]] = {role: [] for role in roles}
    for account, role, day, key, first, calls, *values in rows:
        row = _day_row(day, False, False, calls, values)
        found[(str(account), str(role))].append(KeyDay(day, str(key), first, row.calls, row.values))
    return found


def account_days(
    store: Store, ranges: Mapping[str, tuple[date, date]], shown: Sequence[Shown]
) -> dict[str, list[DayRow]]:
    """Each account's days [start, end) (a session's own day is not split by session here)."""
    if not ranges:
        return {}
    accounts = sorted(ranges)
    columns = ", ".join(
        f"arrayIntersect(groupUniqArrayMerge({column}), {{w_{kind}:Array(String)}})"
        for kind, column in _VALUE_COLUMNS
    )
    rows = store.read(
        f"""SELECT account_id, day, uniqExactMerge(calls), {columns} FROM {T_ACCOUNT_DAYS}
        WHERE account_id IN {{accounts:Array(String)}}
          AND day >= {{starts:Array(Date)}}[indexOf({{accounts:Array(String)}}, account_id)]
          AND day < {{ends:Array(Date)}}[indexOf({{accounts:Array(String)}}, account_id)]
        GROUP BY account_id, day ORDER BY account_id, day""",
        {
            "accounts": accounts, "starts": [ranges[a][0] for a in accounts],
            "ends": [ranges[a][1] for a in accounts],
            **{f"w_{kind}": values for kind, values in _wanted(shown).items()},
        },
    )  # fmt: skip
    found: dict[str, list[DayRow]] = {account: [] for account in accounts}
    for account, day, calls, *values in rows:
        found[str(account)].append(_day_row(day, False, True, calls, values))
    return found


def _day_row(day: date, mine: bool, prior: bool, calls: object, values: Sequence[object]) -> DayRow:
    found = {
        kind: frozenset(str(v) for v in value)  # type: ignore[attr-defined]
        for (kind, _column), value in zip(_VALUE_COLUMNS, values, strict=True)
    }
    return DayRow(day, mine, prior, int(calls), found)  # type: ignore[call-overload]


def history_starts(
    store: Store, roles: Sequence[Role], accounts: Sequence[str]
) -> tuple[dict[Role, date], dict[str, date]]:
    """The first day the store holds of each role and each account (a baseline whose window starts
    on or after it is complete). One query; roles and accounts without activity are left out."""
    if not roles and not accounts:
        return {}, {}
    rows = store.read(
        f"""SELECT 1, account_id, role_arn, min(day) FROM {T_ROLE_DAYS}
            WHERE (account_id, role_arn) IN {{roles:Array(Tuple(String, String))}}
            GROUP BY account_id, role_arn
        UNION ALL
        SELECT 0, account_id, '', min(day) FROM {T_ACCOUNT_DAYS}
            WHERE account_id IN {{accounts:Array(String)}} GROUP BY account_id""",
        {"roles": list(roles), "accounts": list(accounts)},
    )
    by_role: dict[Role, date] = {}
    by_account: dict[str, date] = {}
    for is_role, account, role, first in rows:
        if is_role:
            by_role[(str(account), str(role))] = first
        else:
            by_account[str(account)] = first
    return by_role, by_account


@dataclass(frozen=True)
class LocatedCall:
    """A call with where it came from (travel and instance-address checks)."""

    event_time: datetime
    session_key: str
    call_id: str
    source_ip: str
    location_kind: str
    country: str
    city: str
    latitude: float
    longitude: float
    # Ids of the calls of the same key from the same address in the range, the first one included
    # (at most MAX_CALLS_PER_ADDRESS), when the read gathers them, with their times.
    call_ids: tuple[str, ...] = ()
    call_times: tuple[datetime, ...] = ()
    # The last call of the key from the address in the range (a NAT gateway can lose the address
    # after the first calls): its time and id, when the read gathers them.
    last: tuple[datetime, str] | None = None


@dataclass(frozen=True)
class Stop:
    """Calls from one geolocated address within one minute (travel works on these: a busy origin
    makes thousands of calls in 12 hours, from a handful of places)."""

    first: datetime
    last: datetime
    source_ip: str
    own: bool  # some of them are the session's own calls
    call_id: str  # the first of the session's own calls, else the first call
    country: str
    city: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Around:
    """What one session's travel or address check reads: the calls of `keys` in [start, end]
    (`key`: the session's own key)."""

    key: str
    keys: tuple[str, ...]
    start: datetime
    end: datetime


# Each key of each ask, with the ask's number.
_PAIRS = """SELECT pair.1 AS pair_key, pair.2 AS a
    FROM (SELECT arrayJoin(arrayZip({pair_keys:Array(String)}, {pair_asks:Array(UInt32)})) AS pair)"""


def _per_ask(asks: Sequence[Around], where: str, columns: str) -> tuple[str, dict[str, object]]:
    """The calls each ask reads, once per ask that reads them (`a`: the ask's number, from 1): one
    scan of the union of the keys over the union of the ranges, joined to the (key, ask) pairs."""
    sql = f"""FROM (
            SELECT event_time, session_key, source_ip_address,
                concat(recipient_account_id, ':', event_id) AS call_id, {columns}
            FROM {T_EVENTS}
            WHERE session_key IN {{all_keys:Array(String)}} AND event_time >= {{low:DateTime}}
              AND event_time <= {{high:DateTime}} AND {where}
        ) AS e
        INNER JOIN ({_PAIRS}) AS p ON e.session_key = p.pair_key
        WHERE event_time >= {{ask_starts:Array(DateTime)}}[a]
          AND event_time <= {{ask_ends:Array(DateTime)}}[a]"""
    return sql, _ask_params(asks)


def _ask_params(asks: Sequence[Around]) -> dict[str, object]:
    pairs = [(key, number) for number, ask in enumerate(asks, start=1) for key in ask.keys]
    return {
        "all_keys": sorted({key for key, _number in pairs}),
        "low": min(ask.start for ask in asks),
        "high": max(ask.end for ask in asks),
        "pair_keys": [key for key, _number in pairs],
        "pair_asks": [number for _key, number in pairs],
        "ask_starts": [ask.start for ask in asks],
        "ask_ends": [ask.end for ask in asks],
        "ask_own": [ask.key for ask in asks],
        "limit": MAX_LOCATED_CALLS,
    }


def travel_stops(store: Store, asks: Sequence[Around]) -> list[list[Stop]]:
    """For each ask, where its keys' calls came from in [start, end], by address and minute, oldest
    first: public addresses with coordinates only (services, private addresses and endpoints are no
    place). One query for every ask."""
    if not asks:
        return []
    source, params = _per_ask(
        asks,
        "source_location_kind = 'public' AND invoked_by = '' AND isFinite(source_latitude) "
        "AND isFinite(source_longitude)",
        "source_country, source_city, source_latitude, source_longitude",
    )
    rows = store.read(
        f"""WITH {{ask_own:Array(String)}}[a] AS own_key
        SELECT a, min(event_time) AS t, max(event_time), source_ip_address, max(session_key = own_key) AS own,
            if(own, argMinIf(call_id, event_time, session_key = own_key), argMin(call_id, event_time)),
            any(source_country), any(source_city), any(source_latitude), any(source_longitude)
        {source}
        GROUP BY a, source_ip_address, toStartOfMinute(event_time)
        ORDER BY a, t, source_ip_address LIMIT {{limit:UInt32}} BY a""",
        params,
    )
    found: list[list[Stop]] = [[] for _ask in asks]
    for a, first, last, ip, own, i, c, city, lat, lon in rows:
        stop = Stop(first, last, str(ip), bool(own), str(i), str(c), str(city), float(lat), float(lon))
        found[int(a) - 1].append(stop)
    return found


def session_addresses(store: Store, asks: Sequence[Around]) -> list[list[LocatedCall]]:
    """For each ask, each address each of its keys called from in [start, end], with its first call
    (and the ids of its first MAX_CALLS_PER_ADDRESS calls): not services' hostnames, not VPC-endpoint
    calls, not calls a service made for the caller (invokedBy). One query for every ask: the calls
    of each (key, address), oldest first, are gathered once, and each ask takes those in its range."""
    if not asks:
        return []
    params = _ask_params(asks)
    rows = store.read(
        f"""SELECT a, first.1 AS t, session_key, first.2, source_ip_address, first.3, first.4, first.5,
            first.6, first.7, arrayMap(x -> x.2, within), arrayMap(x -> x.1, within), last.1, last.2
        FROM (
            SELECT p.a AS a, g.session_key AS session_key, g.source_ip_address AS source_ip_address,
                -- The calls are in time order: the first at or after the start, and the next few
                -- up to the end (a busy address has thousands: no copy of them all).
                arrayFirstIndex(x -> x.1 >= {{ask_starts:Array(DateTime)}}[p.a], g.calls) AS from_index,
                arrayFilter(x -> x.1 <= {{ask_ends:Array(DateTime)}}[p.a],
                            arraySlice(g.calls, from_index, {{per_address:UInt32}})) AS within,
                within[1] AS first,
                g.calls[arrayLastIndex(x -> x.1 <= {{ask_ends:Array(DateTime)}}[p.a], g.calls)] AS last
            FROM (
                SELECT session_key, source_ip_address,
                    arraySort(groupArray((event_time, concat(recipient_account_id, ':', event_id),
                        source_location_kind, source_country, source_city, source_latitude,
                        source_longitude))) AS calls
                FROM {T_EVENTS}
                WHERE session_key IN {{all_keys:Array(String)}} AND event_time >= {{low:DateTime}}
                  AND event_time <= {{high:DateTime}} AND source_location_kind IN ('public', 'private')
                  AND invoked_by = ''
                GROUP BY session_key, source_ip_address
            ) AS g
            INNER JOIN ({_PAIRS}) AS p ON g.session_key = p.pair_key
        )
        WHERE notEmpty(within)
        ORDER BY a, t, session_key LIMIT {{limit:UInt32}} BY a""",
        {**params, "per_address": MAX_CALLS_PER_ADDRESS},
    )
    found: list[list[LocatedCall]] = [[] for _ask in asks]
    for row in rows:
        call = replace(
            _located(row[1:10]),
            call_ids=tuple(str(i) for i in row[10]),
            call_times=tuple(row[11]),
            last=(row[12], str(row[13])),
        )
        found[int(row[0]) - 1].append(call)
    return found


def _located(row: Sequence[object]) -> LocatedCall:
    t, k, i, ip, kind, c, city, lat, lon = row
    return LocatedCall(t, str(k), str(i), str(ip), str(kind), str(c), str(city), float(lat), float(lon))  # type: ignore[arg-type]


def triage_candidates(
    store: Store,
    *,
    start: datetime,
    end: datetime,
    window_days: int,
    account_id: str | None,
    role_arn: str | None,
    limit: int,
) -> list[str]:
    """Role sessions active in [start, end) that showed a country, ASN, API or user agent their role
    had not shown in the window before the scope, most such values first (one query): the sessions
    a triage list computes first. Values new only to the origin, and volume or travel, are found
    only by the full computation."""
    where = ["day >= toDate({start:DateTime}) AND day <= toDate({end:DateTime})"]
    params: dict[str, object] = {"start": start, "end": end, "days": window_days, "limit": limit}
    if account_id:
        where.append("account_id = {account:String}")
        params["account"] = account_id
    if role_arn:
        where.append("role_arn = {role:String}")
        params["role"] = role_arn
    scoped = " AND ".join(where)
    rows = store.read(
        f"""SELECT s.session_key,
            length(arrayFilter(x -> NOT has(b.countries, x), s.countries))
            + length(arrayFilter(x -> NOT has(b.asns, x), s.asns))
            + length(arrayFilter(x -> NOT has(b.apis, x), s.apis))
            + length(arrayFilter(x -> NOT has(b.user_agents, x), s.user_agents)) AS novelty
        FROM (
            SELECT session_key, any(account_id) AS session_account, any(role_arn) AS session_role,
                groupUniqArrayMerge(countries) AS countries, groupUniqArrayMerge(asns) AS asns,
                groupUniqArrayMerge(apis) AS apis, groupUniqArrayMerge(user_agents) AS user_agents
            FROM {T_ROLE_DAYS} WHERE {scoped} GROUP BY session_key
        ) AS s
        LEFT JOIN (
            SELECT account_id, role_arn, groupUniqArrayMerge(countries) AS countries,
                groupUniqArrayMerge(asns) AS asns, groupUniqArrayMerge(apis) AS apis,
                groupUniqArrayMerge(user_agents) AS user_agents
            FROM {T_ROLE_DAYS}
            WHERE day >= toDate({{start:DateTime}}) - {{days:UInt32}} AND day < toDate({{start:DateTime}})
              AND (account_id, role_arn) IN (SELECT account_id, role_arn FROM {T_ROLE_DAYS} WHERE {scoped})
            GROUP BY account_id, role_arn
        ) AS b ON s.session_account = b.account_id AND s.session_role = b.role_arn
        WHERE novelty > 0
        ORDER BY novelty DESC, s.session_key LIMIT {{limit:UInt32}}""",
        params,
    )
    return [str(row[0]) for row in rows]


def long_term_keys(store: Store, identity_arn: str) -> list[str]:
    """The long-term access keys an IAM user (or root) called with (skip index on the identity)."""
    rows = store.read(
        f"""SELECT DISTINCT session_key FROM {T_EVENTS}
        WHERE identity_arn = {{arn:String}} AND NOT is_temporary AND session_key != '' LIMIT 100""",
        {"arn": identity_arn},
    )
    return sorted(str(row[0]) for row in rows)
