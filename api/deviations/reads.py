"""Read functions of deviations: what a session showed, and what its baselines hold.

A session's deviations need a bounded number of small queries: its own calls (by its key), the
keys of its role in the window (cloudtrail_role_days, by account + role + day range), that role's
days split by whether the session's origin is behind each key, the account's days
(cloudtrail_account_days), and, for travel and instance checks, the located calls of the origin's
keys around the session (by key). Every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Shown:
    """One value a session showed: when first, and the ids of its first calls."""

    kind: str
    value: str
    first_seen: datetime
    calls: int
    event_ids: tuple[str, ...]


def session_values(store: Store, key: str) -> list[Shown]:
    """Every API, country, city, ASN and user agent a session showed (one query, by its key)."""
    rows = store.read(
        f"""SELECT kv.1 AS kind, kv.2 AS value, min(event_time), uniqExact(id),
            arraySlice(arrayDistinct(arrayMap(x -> x.2, arraySort(groupArray((event_time, id))))),
                       1, {{ids:UInt32}})
        FROM (
            SELECT event_time, concat(recipient_account_id, ':', event_id) AS id,
                arrayJoin([
                    ('api', concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)),
                    ('country', toString(source_country)),
                    ('city', if(source_city != '' AND source_country != '',
                                concat(source_city, ', ', source_country), '')),
                    ('asn', if(source_asn != 0, toString(source_asn), '')),
                    ('user_agent', user_agent)]) AS kv
            FROM {T_EVENTS} WHERE session_key = {{key:String}}
        )
        WHERE kv.2 != ''
        GROUP BY kind, value
        ORDER BY kind, value""",
        {"key": key, "ids": MAX_EVENT_IDS},
    )
    return [Shown(str(k), str(v), first, int(n), tuple(str(i) for i in ids)) for k, v, first, n, ids in rows]


# Sessions of one role whose origins are resolved for a baseline: a busy role (instance profiles,
# Lambda functions) has tens of thousands in a window, and resolving them all takes seconds.
MAX_ROLE_KEYS = 2000


def role_keys_in_window(store: Store, account_id: str, role_arn: str, start: date, end: date) -> list[str]:
    """Keys of the role's sessions active on days [start, end], the MAX_ROLE_KEYS latest."""
    rows = store.read(
        f"""SELECT session_key FROM {T_ROLE_DAYS}
        WHERE account_id = {{account:String}} AND role_arn = {{role:String}}
          AND day >= {{start:Date}} AND day <= {{end:Date}}
        GROUP BY session_key ORDER BY max(day) DESC, session_key LIMIT {{limit:UInt32}}""",
        {"account": account_id, "role": role_arn, "start": start, "end": end, "limit": MAX_ROLE_KEYS},
    )
    return sorted(str(row[0]) for row in rows)


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


def role_days(
    store: Store,
    *,
    account_id: str,
    role_arn: str,
    key: str,
    mine: Sequence[str],
    start: date,
    end: date,
    session_start: datetime,
    shown: Sequence[Shown],
) -> list[DayRow]:
    """The role's days [start, end], split by origin (mine) and by being before the session."""
    wanted = _wanted(shown)
    inner = ", ".join(f"groupUniqArrayMerge({column}) AS {column}" for _kind, column in _VALUE_COLUMNS)
    outer = ", ".join(
        f"arrayIntersect(groupUniqArrayArray({column}), {{w_{kind}:Array(String)}})"
        for kind, column in _VALUE_COLUMNS
    )
    rows = store.read(
        f"""SELECT day, mine, prior, sum(calls), {outer}
        FROM (
            SELECT day, session_key, session_key IN {{mine:Array(String)}} AS mine,
                session_key != {{key:String}}
                    AND (day < toDate({{session_start:DateTime}})
                         OR min(first_seen) < {{session_start:DateTime}})
                    AS prior,
                uniqExactMerge(calls) AS calls, {inner}
            FROM {T_ROLE_DAYS}
            WHERE account_id = {{account:String}} AND role_arn = {{role:String}}
              AND day >= {{start:Date}} AND day <= {{end:Date}}
            GROUP BY day, session_key
        )
        GROUP BY day, mine, prior ORDER BY day""",
        {
            "account": account_id, "role": role_arn, "key": key, "mine": list(mine), "start": start,
            "end": end, "session_start": session_start,
            **{f"w_{kind}": values for kind, values in wanted.items()},
        },
    )  # fmt: skip
    return [_day_row(row[0], bool(row[1]), bool(row[2]), row[3], row[4:]) for row in rows]


def account_days(
    store: Store, *, account_id: str, start: date, end: date, shown: Sequence[Shown]
) -> list[DayRow]:
    """The account's days [start, end) (the session's own day is not split by session here)."""
    wanted = _wanted(shown)
    columns = ", ".join(
        f"arrayIntersect(groupUniqArrayMerge({column}), {{w_{kind}:Array(String)}})"
        for kind, column in _VALUE_COLUMNS
    )
    rows = store.read(
        f"""SELECT day, uniqExactMerge(calls), {columns} FROM {T_ACCOUNT_DAYS}
        WHERE account_id = {{account:String}} AND day >= {{start:Date}} AND day < {{end:Date}}
        GROUP BY day ORDER BY day""",
        {
            "account": account_id, "start": start, "end": end,
            **{f"w_{kind}": values for kind, values in wanted.items()},
        },
    )  # fmt: skip
    return [_day_row(row[0], False, True, row[1], row[2:]) for row in rows]


def _day_row(day: date, mine: bool, prior: bool, calls: object, values: Sequence[object]) -> DayRow:
    found = {
        kind: frozenset(str(v) for v in value)  # type: ignore[attr-defined]
        for (kind, _column), value in zip(_VALUE_COLUMNS, values, strict=True)
    }
    return DayRow(day, mine, prior, int(calls), found)  # type: ignore[call-overload]


def history_before(store: Store, account_id: str, role_arn: str, day: date) -> tuple[bool, bool]:
    """Whether the store holds the role's and the account's activity on or before `day` (their
    baselines are then as old as a window starting that day). Two index-range probes."""
    row = store.read(
        f"""SELECT
            (SELECT count() FROM (SELECT 1 FROM {T_ROLE_DAYS} WHERE account_id = {{account:String}}
                AND role_arn = {{role:String}} AND day <= {{day:Date}} LIMIT 1)),
            (SELECT count() FROM (SELECT 1 FROM {T_ACCOUNT_DAYS} WHERE account_id = {{account:String}}
                AND day <= {{day:Date}} LIMIT 1))""",
        {"account": account_id, "role": role_arn, "day": day},
    )[0]
    return bool(row[0]), bool(row[1])


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


def travel_stops(store: Store, key: str, keys: Sequence[str], start: datetime, end: datetime) -> list[Stop]:
    """Where the keys' calls came from in [start, end], by address and minute, oldest first: public
    addresses with coordinates only (services, private addresses and endpoints are no place)."""
    rows = store.read(
        f"""WITH concat(recipient_account_id, ':', event_id) AS call_id
        SELECT min(event_time) AS t, max(event_time), source_ip_address,
            max(session_key = {{key:String}}) AS own,
            if(own, argMinIf(call_id, event_time, session_key = {{key:String}}), argMin(call_id, event_time)),
            any(source_country), any(source_city), any(source_latitude), any(source_longitude)
        FROM {T_EVENTS}
        WHERE session_key IN {{keys:Array(String)}} AND event_time >= {{start:DateTime}}
          AND event_time <= {{end:DateTime}} AND source_location_kind = 'public' AND invoked_by = ''
          AND isFinite(source_latitude) AND isFinite(source_longitude)
        GROUP BY source_ip_address, toStartOfMinute(event_time)
        ORDER BY t, source_ip_address LIMIT {{limit:UInt32}}""",
        {"key": key, "keys": sorted({key, *keys}), "start": start, "end": end, "limit": MAX_LOCATED_CALLS},
    )
    return [
        Stop(first, last, str(ip), bool(own), str(i), str(c), str(city), float(lat), float(lon))
        for first, last, ip, own, i, c, city, lat, lon in rows
    ]


def session_addresses(store: Store, keys: Sequence[str], start: datetime, end: datetime) -> list[LocatedCall]:
    """Each address each key called from in [start, end], with its first call: not services'
    hostnames, not VPC-endpoint calls, not calls a service made for the caller (invokedBy)."""
    if not keys:
        return []
    rows = store.read(
        f"""SELECT min(event_time) AS t, session_key,
            argMin(concat(recipient_account_id, ':', event_id), event_time),
            source_ip_address, any(source_location_kind), any(source_country), any(source_city),
            any(source_latitude), any(source_longitude)
        FROM {T_EVENTS}
        WHERE session_key IN {{keys:Array(String)}} AND event_time >= {{start:DateTime}}
          AND event_time <= {{end:DateTime}} AND source_location_kind IN ('public', 'private')
          AND invoked_by = ''
        GROUP BY session_key, source_ip_address
        ORDER BY t, session_key LIMIT {{limit:UInt32}}""",
        {"keys": list(keys), "start": start, "end": end, "limit": MAX_LOCATED_CALLS},
    )
    return [_located(row) for row in rows]


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
