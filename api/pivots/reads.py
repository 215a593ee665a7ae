"""Read functions of the pivots: long-term access keys, IP addresses and resources.

Every value is a bound parameter. Scans are bounded by a key (an access key's calls), by an
indexed column and a time scope (an IP address: bloom-filter index on source_ip_address), or by a
time scope (a resource, whose name can be anywhere in the record); the access key lifecycle scan
reads only IAM's three access-key events (event_name first, then the records that name the key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.cloudtrail.summaries import Subject
from api.scoping import Accounts, account_clause
from clickhouse import tables
from clickhouse.client import Store

T_EVENTS = tables.CLOUDTRAIL_EVENTS
LIFECYCLE_EVENTS = ("CreateAccessKey", "DeleteAccessKey", "UpdateAccessKey")
MAX_LIFECYCLE_EVENTS = 1000


def ip_subject(address: str) -> Subject:
    return Subject("source_ip_address = {p_ip:String}", {"p_ip": address})


def resource_subject(identifier: str) -> Subject:
    """Records that name a resource: an ARN in `resources[]` equal to it (or ending in `:name` or
    `/name` for a bare name), or a string value equal to it anywhere in `requestParameters`
    (bucketName, secretId, roleArn, instanceId...). The substring test runs first and is cheap."""
    return Subject(
        """position(raw, {p_res:String}) > 0 AND (
            arrayExists(a -> a = {p_res:String} OR endsWith(a, concat(':', {p_res:String}))
                OR endsWith(a, concat('/', {p_res:String})),
                arrayMap(r -> tupleElement(r, 1), JSONExtract(raw, 'resources', 'Array(Tuple(ARN String))')))
            OR position(JSONExtractRaw(raw, 'requestParameters'), concat('"', {p_res:String}, '"')) > 0)""",
        {"p_res": identifier},
    )


@dataclass(frozen=True)
class KeyActivity:
    """One credential's share of a set of calls (an IP's, a resource's)."""

    key: str
    identity_type: str
    identity_arn: str
    account_id: str
    temporary: bool
    calls: int
    errors: int
    first_seen: datetime
    last_seen: datetime


def keys_of(
    store: Store, subject: Subject, start: datetime, end: datetime, limit: int, accounts: Accounts
) -> list[KeyActivity]:
    """The credentials that made the subject's calls in the scope, most calls first."""
    where, params = subject.where(start, end, accounts)
    rows = store.read(
        f"""SELECT session_key, toString(any(identity_type)), any(identity_arn),
            toString(any(identity_account_id)), max(is_temporary), uniqExact(recipient_account_id, event_id),
            uniqExactIf(recipient_account_id, event_id, error_code != ''), min(event_time), max(event_time)
        FROM {T_EVENTS} WHERE {where} AND session_key != ''
        GROUP BY session_key ORDER BY 6 DESC, session_key LIMIT {{limit:UInt32}}""",
        {**params, "limit": limit},
    )
    return [
        KeyActivity(str(k), str(t), str(a), str(acct), bool(tmp), int(c), int(e), first, last)
        for k, t, a, acct, tmp, c, e, first, last in rows
    ]


@dataclass(frozen=True)
class KeyUsage:
    """What a credential's own calls say about it (a long-term key: whose it is)."""

    access_key_id: str
    identity_type: str
    identity_arn: str
    account_id: str
    user_name: str
    first_seen: datetime
    last_seen: datetime
    calls: int
    errors: int


def key_usage(store: Store, key: str, accounts: Accounts) -> KeyUsage | None:
    """The key's calls, summed (by its key: the leading sort key of the events table)."""
    params: dict[str, object] = {"key": key}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT toString(any(identity_type)), any(identity_arn), toString(any(identity_account_id)),
            any(user_name), min(event_time), max(event_time), uniqExact(recipient_account_id, event_id),
            uniqExactIf(recipient_account_id, event_id, error_code != ''), count()
        FROM {T_EVENTS} WHERE session_key = {{key:String}} AND {allowed}""",
        params,
    )
    if not rows or not rows[0][-1]:
        return None
    t, arn, account, user, first, last, calls, errors, _count = rows[0]
    return KeyUsage(key, str(t), str(arn), str(account), str(user), first, last, int(calls), int(errors))


@dataclass(frozen=True)
class KeyEvent:
    """A CreateAccessKey, DeleteAccessKey or UpdateAccessKey record about one key."""

    event_time: datetime
    event_name: str
    event_id: str
    recipient_account_id: str
    actor_arn: str
    user_name: str
    status: str
    error_code: str


def key_lifecycle(store: Store, key: str, accounts: Accounts) -> list[KeyEvent]:
    """The records that created, deleted or (de)activated the key, oldest first, each once."""
    params: dict[str, object] = {"key": key, "names": list(LIFECYCLE_EVENTS), "limit": MAX_LIFECYCLE_EVENTS}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT event_time, toString(event_name), event_id, toString(recipient_account_id), identity_arn,
            if(JSONExtractString(raw, 'responseElements', 'accessKey', 'userName') != '',
               JSONExtractString(raw, 'responseElements', 'accessKey', 'userName'),
               JSONExtractString(raw, 'requestParameters', 'userName')) AS user,
            JSONExtractString(raw, 'requestParameters', 'status'), toString(error_code)
        FROM {T_EVENTS}
        WHERE event_source = 'iam.amazonaws.com' AND event_name IN {{names:Array(String)}}
          AND position(raw, {{key:String}}) > 0
          AND (JSONExtractString(raw, 'responseElements', 'accessKey', 'accessKeyId') = {{key:String}}
               OR JSONExtractString(raw, 'requestParameters', 'accessKeyId') = {{key:String}})
          AND {allowed}
        ORDER BY event_time, event_id LIMIT 1 BY recipient_account_id, event_id LIMIT {{limit:UInt32}}""",
        params,
    )
    return [KeyEvent(*(row[0],), *(str(v) for v in row[1:])) for row in rows]


def user_arn(store: Store, account_id: str, user_name: str) -> str | None:
    """An IAM user's ARN (with its path) from the minting records its keys made, if any."""
    rows = store.read(
        f"""SELECT any(caller_arn) FROM {tables.CLOUDTRAIL_ISSUANCES}
        WHERE caller_identity_type = 'IAMUser' AND caller_account_id = {{account:String}}
          AND caller_user_name = {{user:String}} HAVING count() > 0""",
        {"account": account_id, "user": user_name},
    )
    return str(rows[0][0]) if rows and rows[0][0] else None
