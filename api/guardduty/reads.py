"""Read functions over guardduty_findings: typed arguments in, frozen dataclasses out.

Always read with FINAL: the table holds every version of a finding that was loaded, and only the
newest (greatest version) is the finding's state. Filters apply after FINAL, so a finding never
matches on a value an older version had. Values are bound parameters; the table name comes from
clickhouse.tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from api.cloudtrail.reads import Page, utc
from api.scoping import Accounts, account_clause
from clickhouse import tables
from clickhouse.client import Row, Store

T_FINDINGS = tables.GUARDDUTY_FINDINGS


@dataclass(frozen=True)
class FindingRow:
    finding_id: str
    account_id: str
    region: str
    partition: str
    arn: str
    type: str
    title: str
    description: str
    severity: float
    created_at: datetime
    updated_at: datetime
    first_seen: datetime
    last_seen: datetime
    count: int
    archived: bool
    resource_type: str
    access_key_id: str
    principal_id: str
    user_name: str
    user_type: str
    instance_id: str
    action_type: str
    api_name: str
    api_service: str
    remote_ips: tuple[str, ...]
    resources: tuple[tuple[str, str], ...]


_SELECT = f"""
    SELECT finding_id, account_id, region, partition, arn, type, title, description, severity, created_at,
        updated_at, first_seen, last_seen, count, archived, resource_type, access_key_id, principal_id,
        user_name, user_type, instance_id, action_type, api_name, api_service, remote_ips, resources
    FROM {T_FINDINGS} FINAL
"""


def _row(row: Row) -> FindingRow:
    values = list(row)
    for i in (9, 10, 11, 12):
        values[i] = utc(values[i])
    values[8] = float(values[8])
    values[13] = int(values[13])
    values[14] = bool(values[14])
    values[24] = tuple(values[24])
    # Named tuples come back as dicts (kind, id).
    values[25] = tuple((str(r["kind"]), str(r["id"])) if isinstance(r, dict) else (str(r[0]), str(r[1]))
                       for r in values[25])  # fmt: skip
    return FindingRow(*values)


def findings_by_id(store: Store, ids: Sequence[str], accounts: Accounts = None) -> dict[str, FindingRow]:
    """The newest version of each finding id (one query for all), of the allowed accounts."""
    if not ids:
        return {}
    params: dict[str, object] = {"ids": list(ids)}
    allowed = account_clause("account_id", accounts, params)
    rows = store.read(_SELECT + f" WHERE finding_id IN {{ids:Array(String)}} AND {allowed}", params)
    return {str(row[0]): _row(row) for row in rows}


def findings_by_key(
    store: Store, keys: Sequence[str], accounts: Accounts = None
) -> dict[str, list[FindingRow]]:
    """Findings naming each access key (in the allowed accounts), newest activity first."""
    if not keys:
        return {}
    params: dict[str, object] = {"keys": list(keys)}
    allowed = account_clause("account_id", accounts, params)
    rows = store.read(
        _SELECT
        + f" WHERE access_key_id IN {{keys:Array(String)}} AND {allowed} ORDER BY last_seen DESC, finding_id",
        params,
    )
    found: dict[str, list[FindingRow]] = {}
    for row in rows:
        finding = _row(row)
        found.setdefault(finding.access_key_id, []).append(finding)
    return found


def finding_raw(store: Store, finding_id: str, accounts: Accounts = None) -> str | None:
    """The newest version of the finding as loaded (JSON text)."""
    params: dict[str, object] = {"id": finding_id}
    allowed = account_clause("account_id", accounts, params)
    value = store.scalar(
        f"SELECT argMax(raw, version) FROM {T_FINDINGS} WHERE finding_id = {{id:String}} AND {allowed}",
        params,
    )
    return str(value) if value else None


@dataclass(frozen=True)
class Subjects:
    """Whom findings must be about (any of these): a principal's credentials, its instance, itself
    as an IAM user or root (long-term keys have no session)."""

    keys: tuple[str, ...] = ()
    instance_ids: tuple[str, ...] = ()
    # (account id, user name) of IAM users; account ids of root users.
    iam_users: tuple[tuple[str, str], ...] = ()
    root_accounts: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.keys or self.instance_ids or self.iam_users or self.root_accounts)


@dataclass(frozen=True)
class FindingFilter:
    types: tuple[str, ...] = ()
    type_prefix: str = ""
    min_severity: float | None = None
    max_severity: float | None = None
    account_id: str = ""
    start: datetime | None = None
    end: datetime | None = None
    archived: bool | None = None
    subjects: Subjects | None = None


def list_findings(
    store: Store, wanted: FindingFilter, *, first: int, after: tuple[datetime, str] | None,
    accounts: Accounts = None,
) -> Page[FindingRow]:  # fmt: skip
    """Findings matching every filter (in the allowed accounts), the most recently active first;
    keyset-paginated."""
    params: dict[str, object] = {"limit": first + 1}
    where: list[str] = [account_clause("account_id", accounts, params)]
    if wanted.types:
        where.append("type IN {types:Array(String)}")
        params["types"] = list(wanted.types)
    if wanted.type_prefix:
        where.append("startsWith(type, {prefix:String})")
        params["prefix"] = wanted.type_prefix
    if wanted.min_severity is not None:
        where.append("severity >= {min_severity:Float64}")
        params["min_severity"] = wanted.min_severity
    if wanted.max_severity is not None:
        where.append("severity <= {max_severity:Float64}")
        params["max_severity"] = wanted.max_severity
    if wanted.account_id:
        where.append("account_id = {account:String}")
        params["account"] = wanted.account_id
    if wanted.start is not None:
        # Findings whose activity overlaps the scope.
        where.append("last_seen >= {start:DateTime}")
        params["start"] = wanted.start
    if wanted.end is not None:
        where.append("first_seen < {end:DateTime}")
        params["end"] = wanted.end
    if wanted.archived is not None:
        where.append("archived = {archived:Bool}")
        params["archived"] = wanted.archived
    if wanted.subjects is not None:
        where.append(_subjects_condition(wanted.subjects, params))
    if after:
        where.append("(last_seen, finding_id) < ({t:DateTime}, {id:String})")
        params["t"], params["id"] = after
    condition = " AND ".join(where) or "1"
    rows = store.read(
        _SELECT + f" WHERE {condition} ORDER BY last_seen DESC, finding_id DESC LIMIT {{limit:UInt32}}",
        params,
    )
    items = [_row(row) for row in rows[:first]]
    return Page(items, len(rows) > first)


def _subjects_condition(subjects: Subjects, params: dict[str, object]) -> str:
    if subjects.empty:
        return "0"
    params["s_keys"] = list(subjects.keys)
    params["s_instances"] = list(subjects.instance_ids)
    params["s_users"] = list(subjects.iam_users)
    params["s_roots"] = list(subjects.root_accounts)
    return """(access_key_id IN {s_keys:Array(String)}
        OR instance_id IN {s_instances:Array(String)}
        OR (user_type = 'IAMUser' AND (account_id, user_name) IN {s_users:Array(Tuple(String, String))})
        OR (user_type = 'Root' AND account_id IN {s_roots:Array(String)}))"""


MAX_ACTION_KEYS = 50


def keys_by_action(
    store: Store, account_id: str, api_name: str, remote_ips: Sequence[str], start: datetime, end: datetime
) -> list[str]:
    """Credentials that made the finding's API call from one of its remote addresses in the account
    within [start, end): how a finding whose key the store does not know still leads to sessions."""
    if not (account_id and api_name and remote_ips):
        return []
    rows = store.rows(
        f"""SELECT session_key FROM {tables.CLOUDTRAIL_EVENTS}
        WHERE recipient_account_id = {{account:String}} AND event_name = {{api:String}}
          AND source_ip_address IN {{ips:Array(String)}}
          AND event_time >= {{start:DateTime}} AND event_time < {{end:DateTime}}
        GROUP BY session_key ORDER BY min(event_time), session_key LIMIT {{limit:UInt32}}""",
        {
            "account": account_id, "api": api_name, "ips": list(remote_ips), "start": start, "end": end,
            "limit": MAX_ACTION_KEYS,
        },
    )  # fmt: skip
    return [str(row[0]) for row in rows]
