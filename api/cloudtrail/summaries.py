"""Activity summaries of any set of calls (a credential, a principal's or a role's credentials,
an access key, an IP address, a resource): counts by API, source IP, user agent and region, and
calls over time. The set is a `Subject`: a SQL condition over cloudtrail_events built from code,
with its values as bound parameters.

Each record counts once: by its identity (recipient account, eventID), since the same record can
sit in two files until the table merges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from api.scoping import Accounts, account_clause
from clickhouse import tables
from clickhouse.client import Store

T_EVENTS = tables.CLOUDTRAIL_EVENTS
# What each breakdown groups by (identifiers from code only).
DIMENSIONS = {
    "source_ip": "source_ip_address",
    "user_agent": "user_agent",
    "region": "toString(aws_region)",
}
BUCKETS = {"HOUR": ("toStartOfHour(event_time)", timedelta(hours=1)),
           "DAY": ("toStartOfDay(event_time)", timedelta(days=1))}  # fmt: skip
_COUNTS = (
    "uniqExact(recipient_account_id, event_id), "
    "uniqExactIf(recipient_account_id, event_id, error_code != ''), min(event_time), max(event_time)"
)


@dataclass(frozen=True)
class Subject:
    """A set of calls: `condition` (SQL from code) with its bound `params`; empty when `none`."""

    condition: str
    params: dict[str, object] = field(default_factory=dict)
    none: bool = False

    @classmethod
    def of_keys(cls, keys: Sequence[str]) -> Subject:
        return cls("session_key IN {s_keys:Array(String)}", {"s_keys": sorted(set(keys))}, not keys)

    def where(self, start: datetime, end: datetime, accounts: Accounts) -> tuple[str, dict[str, object]]:
        params: dict[str, object] = {**self.params, "s_start": start, "s_end": end}
        allowed = account_clause("recipient_account_id", accounts, params)
        condition = (
            f"({self.condition}) AND event_time >= {{s_start:DateTime}} AND event_time < {{s_end:DateTime}}"
            f" AND {allowed}"
        )
        return condition, params


@dataclass(frozen=True)
class ValueCount:
    value: str
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class ApiUsage:
    service: str
    name: str
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


@dataclass(frozen=True)
class Bucket:
    time: datetime
    calls: int
    errors: int


def calls_by(
    store: Store, subject: Subject, dimension: str, start: datetime, end: datetime, limit: int,
    accounts: Accounts,
) -> list[ValueCount]:  # fmt: skip
    """Calls and failed calls per value of `dimension` (a key of DIMENSIONS), most calls first."""
    if subject.none or limit == 0:
        return []
    where, params = subject.where(start, end, accounts)
    rows = store.read(
        f"""SELECT {DIMENSIONS[dimension]} AS value, {_COUNTS} FROM {T_EVENTS} WHERE {where}
        GROUP BY value ORDER BY 2 DESC, value LIMIT {{limit:UInt32}}""",
        {**params, "limit": limit},
    )
    return [ValueCount(str(v), int(c), int(e), first, last) for v, c, e, first, last in rows]


def calls_by_api(
    store: Store, subject: Subject, start: datetime, end: datetime, limit: int, accounts: Accounts
) -> list[ApiUsage]:
    """Calls and failed calls per service and API, most called first."""
    if subject.none or limit == 0:
        return []
    where, params = subject.where(start, end, accounts)
    rows = store.read(
        f"""SELECT replaceOne(toString(event_source), '.amazonaws.com', '') AS service,
            toString(event_name) AS name, {_COUNTS}
        FROM {T_EVENTS} WHERE {where}
        GROUP BY service, name ORDER BY 3 DESC, service, name LIMIT {{limit:UInt32}}""",
        {**params, "limit": limit},
    )
    return [ApiUsage(str(s), str(n), int(c), int(e), first, last) for s, n, c, e, first, last in rows]


def activity(
    store: Store, subject: Subject, bucket: str, start: datetime, end: datetime, limit: int,
    accounts: Accounts,
) -> list[Bucket]:  # fmt: skip
    """Calls and failed calls per time bucket (HOUR or DAY), oldest first; buckets without calls
    are not returned (the caller fills them in). At most `limit` + 1 buckets are read, so a caller
    can tell that the scope holds more than it wants to show."""
    if subject.none:
        return []
    where, params = subject.where(start, end, accounts)
    rows = store.read(
        f"""SELECT {BUCKETS[bucket][0]} AS bucket,
            uniqExact(recipient_account_id, event_id),
            uniqExactIf(recipient_account_id, event_id, error_code != '')
        FROM {T_EVENTS} WHERE {where} GROUP BY bucket ORDER BY bucket LIMIT {{limit:UInt32}}""",
        {**params, "limit": limit + 1},
    )
    return [Bucket(time, int(c), int(e)) for time, c, e in rows]
