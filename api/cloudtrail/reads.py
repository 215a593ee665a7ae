"""Read functions over the CloudTrail tables: typed arguments in, frozen dataclasses out.

Every value reaches SQL as a bound parameter; identifiers come from clickhouse.tables only.
Every scan over events is bounded by a credential key (the leading sort key).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from api.cloudtrail.filters import CallFilter
from api.scoping import Accounts, account_clause
from clickhouse import tables
from clickhouse.client import Row, Store

T_SESSIONS = tables.CLOUDTRAIL_SESSIONS
T_EVENTS = tables.CLOUDTRAIL_EVENTS
T_ISSUANCES = tables.CLOUDTRAIL_ISSUANCES
MAX_CHAIN_DEPTH = 64
# A session's creationDate equals its minting eventTime to the second; a little slack for clocks.
CREATION_SLACK_SECONDS = 5


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
    federated_user_arn: str
    target_principal: str
    session_tags: dict[str, str]
    transitive_tag_keys: tuple[str, ...]
    incoming_transitive_tags: dict[str, str]
    caller_session_issuer_arn: str

    @property
    def transitive_tags(self) -> dict[str, str]:
        """Tags this credential passes down its chain: inherited ones and its own transitive ones."""
        own = {k: v for k, v in self.session_tags.items() if k in self.transitive_tag_keys}
        return {**self.incoming_transitive_tags, **own}

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
    # Where the source address is (migration 0006; empty/0 when not a located public address).
    source_country: str = ""
    source_city: str = ""
    source_asn: int = 0
    source_as_org: str = ""


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


def visible_usage(
    store: Store, found: dict[str, SessionUsage], accounts: Accounts
) -> dict[str, SessionUsage]:
    """Usages whose call figures count only the calls `accounts` logged (the rule of every call
    list, api.scoping): the rollup has no recipient account. Unchanged for an unlimited token.

    A light first query (two narrow columns, bounded by the leading sort key) finds the credentials
    with calls another account logged; only those are recounted from their visible calls. A
    credential with no visible call keeps its rollup times and counts nothing."""
    if accounts is None or not found:
        return found
    params: dict[str, object] = {"keys": sorted(found)}
    allowed = account_clause("recipient_account_id", accounts, params)
    mixed = store.read(
        f"""SELECT DISTINCT session_key FROM {T_EVENTS}
        WHERE session_key IN {{keys:Array(String)}} AND is_temporary AND NOT ({allowed})""",
        params,
    )
    if not mixed:
        return found
    recount = sorted(str(row[0]) for row in mixed)
    params["keys"] = recount
    rows = store.read(
        f"""SELECT session_key, min(event_time), max(event_time), uniqExact(recipient_account_id, event_id),
            uniqExactIf(recipient_account_id, event_id, error_code != ''),
            uniqExact(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)),
            groupUniqArray(source_ip_address), groupUniqArray(user_agent),
            groupUniqArray(toString(aws_region))
        FROM {T_EVENTS}
        WHERE session_key IN {{keys:Array(String)}} AND is_temporary AND {allowed}
        GROUP BY session_key""",
        params,
    )
    figures = {str(row[0]): row for row in rows}
    scoped = dict(found)
    for key in recount:
        usage, row = found[key], figures.get(key)
        scoped[key] = dataclasses.replace(
            usage,
            first_seen=row[1] if row else usage.first_seen,
            last_seen=row[2] if row else usage.last_seen,
            api_call_count=int(row[3]) if row else 0,
            error_count=int(row[4]) if row else 0,
            distinct_apis=int(row[5]) if row else 0,
            source_ips=tuple(sorted(row[6])) if row else (),
            user_agents=tuple(sorted(row[7])) if row else (),
            regions=tuple(sorted(row[8])) if row else (),
        )
    return scoped


def list_sessions(
    store: Store,
    *,
    account_id: str | None,
    role_arn: str | None,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, str] | None,
    accounts: Accounts = None,
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
    having.append(account_clause("max(account_id)", accounts, params))
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
    "recipient_account_id, aws_region, event_id, shared_event_id, copy_rank, federated_user_arn, "
    "target_principal, session_tags, transitive_tag_keys, incoming_transitive_tags, caller_session_issuer_arn"
)


def issuances(store: Store, keys: Sequence[str]) -> dict[str, Issuance]:
    """The minting record of each key; of the two copies of a cross-account call, the caller's."""
    if not keys:
        return {}
    rows = store.read(
        f"SELECT {_ISSUANCE_COLUMNS} FROM {T_ISSUANCES} WHERE access_key_id IN {{keys:Array(String)}}",
        {"keys": list(keys)},
    )
    return _best_copies(rows)


def _issuance(row: Row) -> Issuance:
    values = list(row)
    values[-3] = tuple(values[-3])
    return Issuance(*values)


def _best_copies(rows: Sequence[Row]) -> dict[str, Issuance]:
    """One issuance per minted key: of the two copies of a cross-account call, the caller's."""
    found: dict[str, Issuance] = {}
    for row in rows:
        issuance = _issuance(row)
        current = found.get(issuance.access_key_id)
        if current is None or (issuance.copy_rank, issuance.event_id) > (current.copy_rank, current.event_id):
            found[issuance.access_key_id] = issuance
    return found


def issuances_by_role_session(store: Store, sessions: Sequence[tuple[str, datetime]]) -> dict[str, Issuance]:
    """Minting records found by (assumedRoleId, creation date) instead of by key: console sessions
    (SwitchRole swaps the key) are joined to their AssumeRole this way. Keyed by assumedRoleId."""
    if not sessions:
        return {}
    rows = store.read(
        f"SELECT {_ISSUANCE_COLUMNS} FROM {T_ISSUANCES} WHERE assumed_role_id IN {{ids:Array(String)}}",
        {"ids": sorted({principal for principal, _created in sessions})},
    )
    wanted = {(principal, utc(created)) for principal, created in sessions}
    found: dict[str, Issuance] = {}
    for issuance in _best_copies(rows).values():
        issued = utc(issuance.issued_at)
        for principal, created in wanted:
            if (
                principal == issuance.assumed_role_id
                and abs((issued - created).total_seconds()) <= CREATION_SLACK_SECONDS
            ):
                found[principal + "@" + created.isoformat()] = issuance
    return found


def issuances_for_role_ids(store: Store, role_ids: Sequence[str]) -> dict[str, list[Issuance]]:
    """Minting records by the assumedRoleId (AROA…:session name) they created."""
    if not role_ids:
        return {}
    rows = store.read(
        f"SELECT {_ISSUANCE_COLUMNS} FROM {T_ISSUANCES} WHERE assumed_role_id IN {{ids:Array(String)}}",
        {"ids": list(role_ids)},
    )
    found: dict[str, list[Issuance]] = {}
    for issuance in _best_copies(rows).values():
        found.setdefault(issuance.assumed_role_id, []).append(issuance)
    return found


def console_sessions(store: Store, minted: Sequence[tuple[str, datetime]]) -> list[str]:
    """Session keys of console sessions started by AssumeRole records (principal id + issue time):
    the console swaps the minted key, so its calls are found by principal and creation date."""
    if not minted:
        return []
    rows = store.read(
        f"""SELECT session_key, max(principal_id), max(creation_date) FROM {T_SESSIONS}
        WHERE principal_id IN {{ids:Array(String)}} GROUP BY session_key""",
        {"ids": sorted({principal for principal, _at in minted})},
    )
    wanted = [(principal, utc(at)) for principal, at in minted]
    keys = []
    for key, principal, created in rows:
        created_at = utc(created)
        if any(
            principal == p and abs((created_at - at).total_seconds()) <= CREATION_SLACK_SECONDS
            for p, at in wanted
        ):
            keys.append(str(key))
    return sorted(keys)


def user_arns(store: Store, principal_ids: Sequence[str]) -> dict[str, str]:
    """IAM user ARNs by user id (AIDA…), from any call the user made."""
    if not principal_ids:
        return {}
    rows = store.read(
        f"""SELECT principal_id, any(identity_arn) FROM {T_EVENTS}
        WHERE principal_id IN {{ids:Array(String)}} AND identity_type = 'IAMUser' AND identity_arn != ''
        GROUP BY principal_id""",
        {"ids": list(principal_ids)},
    )
    return {str(p): str(a) for p, a in rows}


def children(store: Store, keys: Sequence[str]) -> dict[str, list[str]]:
    """The credentials each key minted (successful calls only), by parent key."""
    if not keys:
        return {}
    rows = store.read(
        f"""SELECT caller_session_key, groupUniqArray(access_key_id) FROM {T_ISSUANCES}
        WHERE caller_session_key IN {{keys:Array(String)}} GROUP BY caller_session_key""",
        {"keys": list(keys)},
    )
    return {str(parent): sorted(str(k) for k in minted) for parent, minted in rows}


# How each principal kind is found among minting records and among rolled-up session identities.
# Candidates only: the lineage resolver keeps the keys whose origin really is the principal.
_ISSUANCE_MATCH = {
    "IAM_USER": "caller_arn = {id:String}",
    "ROOT": "caller_identity_type = 'Root' AND caller_account_id = {account:String}",
    "SAML_USER": "credential_kind = 'AssumeRoleWithSAML'"
    " AND concat(saml_provider_arn, ':', saml_subject) = {id:String}",
    "IDENTITY_CENTER_USER": "credential_kind = 'AssumeRoleWithSAML' AND role_session_name = {id:String}",
    "WEB_IDENTITY_USER": "concat(web_identity_provider, ':', web_identity_subject) = {id:String}"
    " OR concat('cognito-identity.amazonaws.com:', cognito_identity_id) = {id:String}"
    " OR concat('cognito-identity.amazonaws.com:', web_identity_subject) = {id:String}",
    "FEDERATION_TOKEN_USER": "federated_user_arn = {id:String}",
    "EC2_INSTANCE": "role_session_name = {id:String}",
    "LAMBDA_FUNCTION": "role_session_name = {name:String}",
    "ECS_TASK": "role_session_name = {name:String}",
    "AWS_SERVICE": "caller_invoked_by = {service:String}",
    "AWS_ACCOUNT": "caller_account_id = {id:String} AND caller_identity_type = 'AWSAccount'",
    "UNKNOWN": "caller_principal_id = {id:String} OR caller_arn = {id:String}",
}
_USAGE_MATCH = {
    "IAM_USER": "identity_arn = {id:String} AND identity_type = 'IAMUser'",
    "ROOT": "identity_type = 'Root' AND account_id = {account:String}",
    "FEDERATION_TOKEN_USER": "identity_arn = {id:String}",
    "EC2_INSTANCE": "session_name = {id:String}",
    "IDENTITY_CENTER_USER": "session_name = {id:String} AND position(role_arn, 'AWSReservedSSO_') > 0",
    "LAMBDA_FUNCTION": "session_name = {name:String}",
    "ECS_TASK": "session_name = {name:String}",
}


def _match_params(kind: str, identifier: str) -> dict[str, object]:
    parts = identifier.split(":")
    return {
        "id": identifier,
        "account": parts[4] if kind == "ROOT" and len(parts) > 4 else identifier,
        "name": identifier.rsplit(":", 1)[-1].rsplit("/", 1)[-1],
        "service": identifier.split(":", 1)[0],
    }


def principal_candidates(store: Store, kind: str, identifier: str) -> tuple[dict[str, Issuance], list[str]]:
    """Keys that may belong to a principal: minting records that name it as caller, and sessions
    (console, no minting record) whose own identity names it."""
    params = _match_params(kind, identifier)
    rows = store.read(
        f"""SELECT {_ISSUANCE_COLUMNS} FROM {T_ISSUANCES} WHERE access_key_id IN
            (SELECT access_key_id FROM {T_ISSUANCES} WHERE {_ISSUANCE_MATCH[kind]})""",
        params,
    )
    usage_keys: list[str] = []
    if kind in _USAGE_MATCH:
        usage_keys = [
            str(row[0])
            for row in store.read(
                f"SELECT DISTINCT session_key FROM {T_SESSIONS} WHERE {_USAGE_MATCH[kind]} LIMIT 100000",
                params,
            )
        ]
    return _best_copies(rows), usage_keys


def role_keys(store: Store, role_arn: str) -> list[str]:
    """Every credential of a role: minted for it, or seen calling as it."""
    rows = store.read(
        f"""SELECT access_key_id FROM {T_ISSUANCES} WHERE role_arn = {{arn:String}}
        UNION DISTINCT SELECT session_key FROM {T_SESSIONS} WHERE role_arn = {{arn:String}}""",
        {"arn": role_arn},
    )
    return sorted(str(row[0]) for row in rows)


# Resolving a bare name (subject, identity id, user name) to the canonical identifiers it may mean.
_BARE = {
    # A user known only from its long-term-key calls counts too: "bob" in two accounts is ambiguous.
    "IAM_USER": (
        f"(SELECT caller_arn AS arn FROM {T_ISSUANCES} WHERE caller_identity_type = 'IAMUser'"
        f" AND caller_user_name = {{bare:String}} UNION DISTINCT SELECT identity_arn FROM {T_EVENTS}"
        " WHERE identity_type = 'IAMUser' AND user_name = {bare:String})",
        "arn",
        "1",
    ),
    "SAML_USER": (
        T_ISSUANCES,
        "concat(saml_provider_arn, ':', saml_subject)",
        "credential_kind = 'AssumeRoleWithSAML' AND saml_subject = {bare:String}"
        " AND position(role_arn, 'AWSReservedSSO_') = 0",
    ),
    "WEB_IDENTITY_USER": (
        T_ISSUANCES,
        "if(cognito_identity_id != '', concat('cognito-identity.amazonaws.com:', cognito_identity_id),"
        " concat(web_identity_provider, ':', web_identity_subject))",
        "web_identity_subject = {bare:String} OR cognito_identity_id = {bare:String}",
    ),
    "FEDERATION_TOKEN_USER": (
        T_ISSUANCES,
        "federated_user_arn",
        "credential_kind = 'GetFederationToken' AND role_session_name = {bare:String}",
    ),
    "LAMBDA_FUNCTION": (
        T_ISSUANCES,
        "concat('arn:aws:lambda:', aws_region, ':', splitByChar(':', role_arn)[5], ':function:',"
        " role_session_name)",
        "caller_invoked_by = 'lambda.amazonaws.com' AND role_session_name = {bare:String}",
    ),
}


def canonical_identifiers(store: Store, kind: str, bare: str) -> list[str]:
    """The canonical identifiers a bare name can stand for (one: unambiguous)."""
    if kind not in _BARE:
        return []
    table, column, condition = _BARE[kind]
    rows = store.read(f"SELECT DISTINCT {column} FROM {table} WHERE {condition} LIMIT 20", {"bare": bare})
    return sorted(str(row[0]) for row in rows if row[0])


def _same_creation(minted: datetime, created: datetime) -> bool:
    """A session's creationDate is its minting record's eventTime (to the second, with slack)."""
    return abs((minted - created).total_seconds()) <= CREATION_SLACK_SECONDS


def utc(value: datetime) -> datetime:
    """The time as UTC-aware (the driver returns naive UTC datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def api_calls(
    store: Store,
    keys: Sequence[str],
    *,
    start: datetime,
    end: datetime,
    first: int,
    after: tuple[datetime, str, str] | None,
    accounts: Accounts = None,
    filters: CallFilter | None = None,
) -> Page[ApiCall]:
    """Calls made with the given credentials in [start, end), oldest first; keyset-paginated.
    `accounts` keeps the calls those accounts logged; `filters` narrows by service, API, error, IP."""
    params: dict[str, object] = {"keys": list(keys), "start": start, "end": end}
    where = [
        "session_key IN {keys:Array(String)}",
        "event_time >= {start:DateTime}",
        "event_time < {end:DateTime}",
        account_clause("recipient_account_id", accounts, params),
        (filters or CallFilter()).sql(params),
    ]
    return calls_where(store, where, params, first, after)


_CALL_COLUMNS = """session_key, event_time, event_id, recipient_account_id, aws_region, event_source,
    event_name, read_only, error_code, error_message, source_ip_address, user_agent, vpc_endpoint_id,
    invoked_by, source_country, source_city, source_asn, source_as_org"""


def _unique(rows: Sequence[Row]) -> list[ApiCall]:
    """Calls with the copies of a record dropped: rows with the same sort key (credential, time,
    recipient account, eventID), which a merge would collapse (they are identical in these columns)."""
    seen: set[tuple[object, ...]] = set()
    calls = []
    for row in rows:
        identity = (row[0], row[1], row[3], row[2])
        if identity not in seen:
            seen.add(identity)
            calls.append(ApiCall(*row))
    return calls


def calls_where(
    store: Store,
    where: list[str],
    params: dict[str, object],
    first: int,
    after: tuple[datetime, str, str] | None,
) -> Page[ApiCall]:
    """Calls matching every condition of `where` (SQL from code, values bound in `params`), oldest
    first, keyset-paginated by (event time, recipient account, eventID).

    FINAL (collapsing copies of a record that parts not yet merged both hold) makes the engine
    merge every part of the range before it can stop at the page: most of the read's time. So the
    page is read twice over without FINAL and repeats are dropped here; only when repeats leave it
    short is it read again with FINAL.
    """
    where = list(where)
    params = dict(params)
    if after:
        where.append("(event_time, recipient_account_id, event_id) > ({t:DateTime}, {r:String}, {e:String})")
        params["t"], params["r"], params["e"] = after
    condition = " AND ".join(where)

    def read(final: str, limit: int) -> list[Row]:
        return store.read(
            f"SELECT {_CALL_COLUMNS} FROM {T_EVENTS} {final} WHERE {condition}"
            " ORDER BY event_time, recipient_account_id, event_id LIMIT {limit:UInt32}",
            {**params, "limit": limit},
        )

    fetch = 2 * (first + 1)
    rows = read("", fetch)
    calls = _unique(rows)
    if len(calls) <= first and len(rows) == fetch:
        calls = [ApiCall(*row) for row in read("FINAL", first + 1)]
    return Page(calls[:first], len(calls) > first)


CallsRequest = tuple[str, datetime, datetime, int]


def first_calls(
    store: Store, requests: Sequence[CallsRequest], accounts: Accounts = None
) -> dict[CallsRequest, Page[ApiCall]]:
    """The first page of calls of many credentials at once (nested lists of sessions): one query
    per distinct (scope, page size), `LIMIT n BY session_key`, instead of one per credential.
    Read without FINAL as in `calls_where` (twice the page, repeats dropped, FINAL only for a
    credential whose page the repeats left short)."""
    groups: dict[tuple[datetime, datetime, int], list[str]] = {}
    for key, start, end, first in requests:
        groups.setdefault((start, end, first), []).append(key)
    pages: dict[CallsRequest, Page[ApiCall]] = {}
    for (start, end, first), keys in groups.items():
        by_key = _first_calls_by_key(store, sorted(set(keys)), start, end, first, accounts)
        for key in keys:
            calls = by_key.get(key, [])
            pages[(key, start, end, first)] = Page(calls[:first], len(calls) > first)
    return pages


def _first_calls_by_key(
    store: Store,
    keys: list[str],
    start: datetime,
    end: datetime,
    first: int,
    accounts: Accounts,
    final: bool = False,
) -> dict[str, list[ApiCall]]:
    fetch = first + 1 if final else 2 * (first + 1)
    params: dict[str, object] = {"keys": keys, "start": start, "end": end, "limit": fetch}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT {_CALL_COLUMNS}
        FROM {T_EVENTS} {"FINAL" if final else ""}
        WHERE session_key IN {{keys:Array(String)}}
          AND event_time >= {{start:DateTime}} AND event_time < {{end:DateTime}} AND {allowed}
        ORDER BY session_key, event_time, recipient_account_id, event_id
        LIMIT {{limit:UInt32}} BY session_key""",
        params,
    )
    raw: dict[str, list[Row]] = {}
    for row in rows:
        raw.setdefault(str(row[0]), []).append(row)
    by_key = {key: _unique(found) for key, found in raw.items()}
    short = [
        key for key, calls in by_key.items() if not final and len(calls) <= first and len(raw[key]) == fetch
    ]
    if short:
        by_key.update(_first_calls_by_key(store, short, start, end, first, accounts, final=True))
    return by_key


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


@dataclass(frozen=True)
class ApiCount:
    service: str
    name: str
    calls: int
    errors: int


_SCOPE = (
    "session_key IN {keys:Array(String)} AND event_time >= {start:DateTime} AND event_time < {end:DateTime}"
)


def call_count(
    store: Store, keys: Sequence[str], start: datetime, end: datetime, accounts: Accounts = None
) -> int:
    """Distinct records (recipient account, eventID) made with the given credentials in scope."""
    if not keys:
        return 0
    params: dict[str, object] = {"keys": list(keys), "start": start, "end": end}
    allowed = account_clause("recipient_account_id", accounts, params)
    value = store.read(
        f"SELECT uniqExact(recipient_account_id, event_id) FROM {T_EVENTS} WHERE {_SCOPE} AND {allowed}",
        params,
    )
    return int(value[0][0]) if value else 0


def calls_by_api(
    store: Store, keys: Sequence[str], start: datetime, end: datetime, accounts: Accounts = None
) -> list[ApiCount]:
    """Calls and failed calls per service and API, most called first."""
    if not keys:
        return []
    params: dict[str, object] = {"keys": list(keys), "start": start, "end": end}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT replaceOne(event_source, '.amazonaws.com', '') AS service, event_name,
            uniqExact(recipient_account_id, event_id),
            uniqExactIf(recipient_account_id, event_id, error_code != '')
        FROM {T_EVENTS} WHERE {_SCOPE} AND {allowed}
        GROUP BY service, event_name ORDER BY 3 DESC, service, event_name LIMIT 1000""",
        params,
    )
    return [ApiCount(str(a), str(b), int(c), int(d)) for a, b, c, d in rows]


def direct_call_count(
    store: Store, kind: str, identifier: str, start: datetime, end: datetime, accounts: Accounts = None
) -> int:
    """Calls a user or root made with its own long-term keys (not with temporary credentials)."""
    if kind not in ("IAM_USER", "ROOT"):
        return 0
    keys = [
        str(row[0])
        for row in store.read(
            f"""SELECT DISTINCT session_key FROM {T_EVENTS}
            WHERE identity_arn = {{arn:String}} AND NOT is_temporary AND session_key != ''""",
            {"arn": identifier},
        )
    ]
    return call_count(store, keys, start, end, accounts)


def account_names(store: Store, ids: Sequence[str]) -> dict[str, str]:
    """Account names from the Organizations export, when one was loaded."""
    if not ids:
        return {}
    rows = store.read(
        f"""SELECT account_id, argMax(name, exported_at) FROM {tables.DIRECTORY_ACCOUNTS}
        WHERE account_id IN {{ids:Array(String)}} GROUP BY account_id""",
        {"ids": list(ids)},
    )
    return {str(a): str(n) for a, n in rows if n}


@dataclass(frozen=True)
class DirectoryUser:
    user_id: str
    user_name: str
    display_name: str
    emails: tuple[str, ...]


def identity_center_users(store: Store, names_or_ids: Sequence[str]) -> dict[str, DirectoryUser]:
    """Identity Center users by user id and by user name, from the Identity Store export."""
    if not names_or_ids:
        return {}
    rows = store.read(
        f"""SELECT user_id, argMax(user_name, exported_at), argMax(display_name, exported_at),
            argMax(emails, exported_at)
        FROM {tables.DIRECTORY_IDENTITY_CENTER_USERS}
        WHERE user_id IN {{keys:Array(String)}} OR user_name IN {{keys:Array(String)}} GROUP BY user_id""",
        {"keys": list(names_or_ids)},
    )
    found: dict[str, DirectoryUser] = {}
    for user_id, name, display, emails in rows:
        user = DirectoryUser(str(user_id), str(name), str(display), tuple(emails))
        found[user.user_id] = user
        found[user.user_name] = user
    return found
