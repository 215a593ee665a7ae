"""Read functions over the CloudTrail tables: typed arguments in, frozen dataclasses out.

Every value reaches SQL as a bound parameter; identifiers come from clickhouse.tables only.
Every scan over events is bounded by a credential key (the leading sort key).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from clickhouse import tables
from clickhouse.client import Row, Store

T_SESSIONS = tables.CLOUDTRAIL_SESSIONS
T_EVENTS = tables.CLOUDTRAIL_EVENTS
T_ISSUANCES = tables.CLOUDTRAIL_ISSUANCES
MAX_CHAIN_DEPTH = 64


@dataclass(frozen=True)
class SessionUsage:
    """What the sessions rollup knows about one credential's activity."""

    session_key: str
    access_key_id: str
    principal_id: str
    identity_type: str
    identity_arn: str
    account_id: str
    role_arn: str
    session_name: str
    creation_date: datetime | None
    source_identity: str
    on_behalf_of_user_id: str
    first_seen: datetime
    last_seen: datetime
    api_call_count: int
    error_count: int
    distinct_apis: int
    source_ips: tuple[str, ...]
    user_agents: tuple[str, ...]
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Issuance:
    """The record that minted a credential."""

    access_key_id: str
    issued_at: datetime
    expires_at: datetime | None
    credential_kind: str
    role_arn: str
    role_session_name: str
    assumed_role_id: str
    source_identity: str
    caller_identity_type: str
    caller_principal_id: str
    caller_arn: str
    caller_account_id: str
    caller_access_key_id: str
    caller_session_key: str
    caller_user_name: str
    caller_invoked_by: str
    saml_provider_arn: str
    saml_subject: str
    saml_issuer: str
    web_identity_provider: str
    web_identity_subject: str
    cognito_identity_id: str
    recipient_account_id: str
    aws_region: str
    event_id: str
    shared_event_id: str
    copy_rank: int

    @property
    def caller_is_session(self) -> bool:
        """The minting call was made with temporary credentials: the chain goes on above it."""
        key = self.caller_access_key_id
        if key.startswith("AKIA"):
            return False
        return self.caller_identity_type in ("AssumedRole", "FederatedUser") or key.startswith("ASIA")


@dataclass(frozen=True)
class ApiCall:
    session_key: str
    event_time: datetime
    event_id: str
    recipient_account_id: str
    aws_region: str
    event_source: str
    event_name: str
    read_only: bool
    error_code: str
    error_message: str
    source_ip_address: str
    user_agent: str
    vpc_endpoint_id: str
    invoked_by: str


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    has_next: bool


_USAGE_SELECT = f"""
    SELECT session_key, max(access_key_id), max(principal_id), max(identity_type), max(identity_arn),
        max(account_id), max(role_arn), max(session_name), max(creation_date), max(source_identity),
        max(on_behalf_of_user_id), min(first_seen), max(last_seen), uniqExactMerge(calls),
        uniqExactMerge(errors), length(groupUniqArrayMerge(apis)), groupUniqArrayMerge(source_ips),
        groupUniqArrayMerge(user_agents), groupUniqArrayMerge(regions)
    FROM {T_SESSIONS}
"""


def _usage(row: Row) -> SessionUsage:
    creation = row[8] if row[8] and row[8].year > 1970 else None
    return SessionUsage(
        str(row[0]), str(row[1]), str(row[2]), str(row[3]),
        str(row[4]), str(row[5]), str(row[6]), str(row[7]),
        creation, str(row[9]), str(row[10]), row[11], row[12], int(row[13]), int(row[14]), int(row[15]),
        tuple(sorted(row[16])), tuple(sorted(row[17])), tuple(sorted(row[18])),
    )  # fmt: skip


def session_usage(store: Store, keys: Sequence[str]) -> dict[str, SessionUsage]:
    """Usage of the given credential keys (one query for all of them)."""
    if not keys:
        return {}
    rows = store.read(
        _USAGE_SELECT + " WHERE session_key IN {keys:Array(String)} GROUP BY session_key",
        {"keys": list(keys)},
    )
    return {str(row[0]): _usage(row) for row in rows}


def list_sessions(
    store: Store,
    *,
    account_id: str | None,
    role_arn: str | None,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, str] | None,
) -> Page[SessionUsage]:
    """Sessions active in [start, end), newest first seen first; keyset-paginated.

    The window selects sessions; each one is then summed over its whole life, so a session reads
    the same here as through `session_usage`, and its cursor position does not depend on the window.
    """
    having = ["max(last_seen) >= {start:DateTime}", "min(first_seen) < {end:DateTime}"]
    params: dict[str, object] = {"start": start, "end": end, "limit": first + 1}
    if account_id:
        having.append("max(account_id) = {account:String}")
        params["account"] = account_id
    if role_arn:
        having.append("max(role_arn) = {role:String}")
        params["role"] = role_arn
    if after:
        having.append("(min(first_seen), session_key) < ({after_time:DateTime}, {after_key:String})")
        params["after_time"], params["after_key"] = after
    sql = (
        _USAGE_SELECT
        + f" WHERE session_key IN (SELECT session_key FROM {T_SESSIONS}"
        + " WHERE day >= toDate({start:DateTime}) AND day <= toDate({end:DateTime}))"
        + " GROUP BY session_key HAVING "
        + " AND ".join(having)
        + " ORDER BY min(first_seen) DESC, session_key DESC LIMIT {limit:UInt32}"
    )
    rows = store.read(sql, params)
    items = [_usage(row) for row in rows[:first]]
    return Page(items, len(rows) > first)


_ISSUANCE_COLUMNS = (
    "access_key_id, issued_at, expires_at, credential_kind, role_arn, role_session_name, assumed_role_id, "
    "source_identity, caller_identity_type, caller_principal_id, caller_arn, caller_account_id, "
    "caller_access_key_id, caller_session_key, caller_user_name, caller_invoked_by, saml_provider_arn, "
    "saml_subject, saml_issuer, web_identity_provider, web_identity_subject, cognito_identity_id, "
    "recipient_account_id, aws_region, event_id, shared_event_id, copy_rank"
)


def issuances(store: Store, keys: Sequence[str]) -> dict[str, Issuance]:
    """The minting record of each key; of the two copies of a cross-account call, the caller's."""
    if not keys:
        return {}
    rows = store.read(
        f"SELECT {_ISSUANCE_COLUMNS} FROM {T_ISSUANCES} WHERE access_key_id IN {{keys:Array(String)}}",
        {"keys": list(keys)},
    )
    found: dict[str, Issuance] = {}
    for row in rows:
        issuance = Issuance(*row)
        current = found.get(issuance.access_key_id)
        if current is None or (issuance.copy_rank, issuance.event_id) > (current.copy_rank, current.event_id):
            found[issuance.access_key_id] = issuance
    return found


def chains(store: Store, keys: Sequence[str]) -> dict[str, list[Issuance]]:
    """For each key, its issuance followed by every ancestor's, nearest first, walked hop by hop.

    One query per level of depth for all keys together; stops at a caller that is not a session,
    at a missing issuance (a gap) or at a cycle.
    """
    result: dict[str, list[Issuance]] = {key: [] for key in keys}
    frontier = {key: key for key in keys}
    for _ in range(MAX_CHAIN_DEPTH):
        if not frontier:
            break
        found = issuances(store, sorted(set(frontier.values())))
        next_frontier: dict[str, str] = {}
        for origin_key, key in frontier.items():
            issuance = found.get(key)
            if issuance is None:
                continue
            chain = result[origin_key]
            chain.append(issuance)
            parent = issuance.caller_session_key
            seen = {i.access_key_id for i in chain}
            if issuance.caller_is_session and parent and parent not in seen:
                next_frontier[origin_key] = parent
        frontier = next_frontier
    return result


def api_calls(
    store: Store,
    session_key: str,
    *,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, str, str] | None,
) -> Page[ApiCall]:
    """Calls made with one credential in [start, end), oldest first; keyset-paginated."""
    where = ["session_key = {key:String}", "event_time >= {start:DateTime}", "event_time < {end:DateTime}"]
    params: dict[str, object] = {"key": session_key, "start": start, "end": end, "limit": first + 1}
    if after:
        where.append("(event_time, recipient_account_id, event_id) > ({t:DateTime}, {r:String}, {e:String})")
        params["t"], params["r"], params["e"] = after
    rows = store.read(
        f"""SELECT session_key, event_time, event_id, recipient_account_id, aws_region, event_source,
            event_name, read_only, error_code, error_message, source_ip_address, user_agent, vpc_endpoint_id,
            invoked_by
        FROM {T_EVENTS} FINAL WHERE {" AND ".join(where)}
        ORDER BY event_time, recipient_account_id, event_id LIMIT {{limit:UInt32}}""",
        params,
    )
    calls = [ApiCall(*row) for row in rows[:first]]
    return Page(calls, len(rows) > first)


def raw_records(store: Store, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
    """The stored record text for (session key, recipient account, eventID) triples."""
    if not keys:
        return {}
    rows = store.read(
        f"""SELECT session_key, recipient_account_id, event_id, any(raw) FROM {T_EVENTS}
        WHERE session_key IN {{sessions:Array(String)}} AND event_id IN {{ids:Array(String)}}
        GROUP BY session_key, recipient_account_id, event_id""",
        {"sessions": sorted({k[0] for k in keys}), "ids": sorted({k[2] for k in keys})},
    )
    return {(str(s), str(r), str(e)): str(raw) for s, r, e, raw in rows}
