"""Search: principals, roles, sessions, access keys and IP addresses by part of a name, ARN, key,
address or account id (case-insensitive substring; an access key or address also by prefix).

Each kind is one bounded query (LIMIT) over the table that names it: sessions and minting records
(small: one row per credential and day, one per minted key) for sessions, roles and principals;
events within a time scope for long-term keys, IAM users and addresses. Values are bound
parameters; the token's accounts filter every query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api import scoping
from api.cloudtrail import reads
from api.cloudtrail.principals import PrincipalRef, federated_user, minted_for, usage_principal
from api.scoping import Accounts, account_clause
from clickhouse import tables
from clickhouse.client import Store

T_EVENTS = tables.CLOUDTRAIL_EVENTS
MIN_TEXT = 3
MAX_TEXT = 256
# Minting records read to find principals (their refs are then matched in Python).
MAX_ISSUANCES = 2000


@dataclass(frozen=True)
class Hit:
    kind: str  # SESSION, ROLE, PRINCIPAL, ACCESS_KEY, IP_ADDRESS
    value: str  # the key, ARN, identifier or address found
    matched_on: str  # which field matched
    exact: bool
    ref: PrincipalRef | None = None


def _contains(column: str) -> str:
    return f"positionCaseInsensitiveUTF8({column}, {{text:String}}) > 0"


_SESSION_FIELDS = (
    ("accessKeyId", "session_key"),
    ("roleArn", "role_arn"),
    ("sessionName", "session_name"),
    ("principalId", "principal_id"),
    ("identityArn", "identity_arn"),
    ("accountId", "account_id"),
)


def sessions(store: Store, text: str, limit: int, accounts: Accounts) -> list[Hit]:
    """Temporary credentials whose key, role, session name, principal id or account contains `text`,
    most recently seen first."""
    params: dict[str, object] = {"text": text, "limit": limit}
    matched = "multiIf(" + ", ".join(f"{_contains(col)}, '{name}'" for name, col in _SESSION_FIELDS) + ", '')"
    allowed = account_clause("max(account_id)", accounts, params)
    rows = store.read(
        f"""SELECT session_key, any({matched}), lower(session_key) = lower({{text:String}})
        FROM {tables.CLOUDTRAIL_SESSIONS}
        WHERE {" OR ".join(_contains(col) for _name, col in _SESSION_FIELDS)}
        GROUP BY session_key HAVING {allowed}
        ORDER BY max(last_seen) DESC, session_key LIMIT {{limit:UInt32}}""",
        params,
    )
    return [Hit("SESSION", str(key), str(on), bool(exact)) for key, on, exact in rows]


def roles(store: Store, text: str, limit: int, accounts: Accounts) -> list[Hit]:
    """Roles whose ARN contains `text` (the account id, the name, the path)."""
    params: dict[str, object] = {"text": text, "limit": limit}
    allowed = account_clause("splitByChar(':', arn)[5]", accounts, params)
    rows = store.read(
        f"""SELECT arn, lower(arn) = lower({{text:String}}) FROM (
            SELECT DISTINCT role_arn AS arn FROM {tables.CLOUDTRAIL_SESSIONS}
            WHERE role_arn != '' AND {_contains("role_arn")}
            UNION DISTINCT
            SELECT DISTINCT role_arn AS arn FROM {tables.CLOUDTRAIL_ISSUANCES}
            WHERE role_arn != '' AND {_contains("role_arn")}
        ) WHERE {allowed} ORDER BY arn LIMIT {{limit:UInt32}}""",
        params,
    )
    return [Hit("ROLE", str(arn), "arn", bool(exact)) for arn, exact in rows]


_ISSUANCE_TEXT = (
    "concat(caller_arn, ' ', caller_user_name, ' ', toString(caller_account_id), ' ', role_session_name, "
    "' ', saml_subject, ' ', web_identity_subject, ' ', cognito_identity_id, ' ', federated_user_arn, ' ', "
    "toString(caller_invoked_by))"
)


def principals(store: Store, text: str, limit: int, accounts: Accounts) -> list[Hit]:
    """Principals whose identifier, name or account contains `text`: those behind minting records
    (users, federated identities, workloads, services), IAM users seen calling with their own keys,
    and the instance and Identity Center users that sessions without minting records name."""
    wanted = text.lower()
    found: dict[tuple[str, str], PrincipalRef] = {}

    def consider(ref: PrincipalRef | None) -> None:
        if ref is None or not scoping.allows(accounts, ref.account_id):
            return
        if any(wanted in value.lower() for value in (ref.identifier, ref.display_name, ref.account_id)):
            found.setdefault((ref.kind.value, ref.identifier), ref)

    rows = store.read(
        f"""SELECT access_key_id FROM {tables.CLOUDTRAIL_ISSUANCES}
        WHERE positionCaseInsensitiveUTF8({_ISSUANCE_TEXT}, {{text:String}}) > 0 LIMIT {{limit:UInt32}}""",
        {"text": text, "limit": MAX_ISSUANCES},
    )
    for issuance in reads.issuances(store, [str(row[0]) for row in rows]).values():
        consider(minted_for(issuance))
        consider(federated_user(issuance))
    keys = store.read(
        f"""SELECT DISTINCT session_key FROM {tables.CLOUDTRAIL_SESSIONS}
        WHERE {_contains("session_name")} OR {_contains("identity_arn")} LIMIT {{limit:UInt32}}""",
        {"text": text, "limit": MAX_ISSUANCES},
    )
    for usage in reads.session_usage(store, [str(row[0]) for row in keys]).values():
        consider(usage_principal(usage))
    hits = [
        Hit("PRINCIPAL", ref.identifier, "identifier", ref.identifier.lower() == wanted, ref)
        for ref in found.values()
    ]
    return sorted(hits, key=lambda h: (not h.exact, h.value))[:limit]


def long_term(
    store: Store, text: str, start: datetime, end: datetime, limit: int, accounts: Accounts
) -> tuple[list[Hit], list[Hit]]:
    """Long-term keys (AKIA…) that contain `text`, and IAM users seen calling with their own keys
    whose ARN contains it, in the scope."""
    params: dict[str, object] = {"text": text, "start": start, "end": end, "limit": limit}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT session_key, any(identity_type), any(identity_arn), toString(any(identity_account_id)),
            {_contains("session_key")} AS by_key
        FROM {T_EVENTS}
        WHERE event_time >= {{start:DateTime}} AND event_time < {{end:DateTime}} AND NOT is_temporary
          AND session_key != '' AND ({_contains("session_key")} OR {_contains("identity_arn")}) AND {allowed}
        GROUP BY session_key ORDER BY session_key LIMIT {{limit:UInt32}}""",
        params,
    )
    keys, users = [], {}
    for key, kind, arn, account, by_key in rows:
        if not scoping.allows(accounts, str(account)):
            continue
        if by_key:
            keys.append(Hit("ACCESS_KEY", str(key), "accessKeyId", str(key).lower() == text.lower()))
        if kind == "IAMUser" and text.lower() in str(arn).lower():
            users[str(arn)] = Hit("PRINCIPAL", str(arn), "identifier", str(arn).lower() == text.lower())
    return keys, list(users.values())


def addresses(
    store: Store, text: str, start: datetime, end: datetime, limit: int, accounts: Accounts
) -> list[Hit]:
    """Source addresses that start with `text` (an address or its first octets), in the scope."""
    params: dict[str, object] = {"text": text, "start": start, "end": end, "limit": limit}
    allowed = account_clause("recipient_account_id", accounts, params)
    rows = store.read(
        f"""SELECT source_ip_address FROM {T_EVENTS}
        WHERE event_time >= {{start:DateTime}} AND event_time < {{end:DateTime}}
          AND source_ip IS NOT NULL AND startsWith(source_ip_address, {{text:String}}) AND {allowed}
        GROUP BY source_ip_address ORDER BY count() DESC, source_ip_address LIMIT {{limit:UInt32}}""",
        params,
    )
    return [Hit("IP_ADDRESS", str(row[0]), "sourceIpAddress", str(row[0]) == text) for row in rows]


def looks_like_address(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF.:" for c in text) and any(c in ".:" for c in text)
