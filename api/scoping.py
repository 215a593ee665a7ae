"""Account-limited tokens: what a token limited to some AWS accounts may read.

The rule (README, "Tokens limited to accounts"):

* a call (a CloudTrail record) is visible when the account that logged it (its recipient account)
  is one of the token's accounts;
* a credential is visible when it belongs to one of them: the account of its role (or of the user
  or federated user it was minted for), as its calls and its minting record say;
* a principal or role is visible when its own account is one of them, and shows only its visible
  credentials;
* a chain that climbs into an account the token may not see keeps its length: each hidden hop
  is a placeholder session (`redacted: true`, key `redacted:<n>`, nothing else filled in), and an
  origin or a chain gap in such an account is null.

The sessions rollup has no recipient account: a visible session's rolled-up figures (apiCallCount,
errorCount, sourceIps...) are recounted from the calls the token may see when some of its calls
were logged elsewhere (reads.visible_usage), so they agree with its lists, panels and exports.
Deviations keep only the calls the token may see, and those resting on hidden calls are left out
(api.deviations.schema.visible_deviations). Known limits: such a session with no visible call
keeps the rollup's first and last seen times; a shown deviation's detail and baselines are worked
out from every account's calls.

The limit is enforced where rows are read: read functions take the accounts and filter in SQL
(`account_clause`), and the per-request DataLoaders built for a limited token drop or redact what
their batch functions return (`scoped_*` below). GraphQL types never see a hidden row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from clickhouse import tables
from clickhouse.client import Store

if TYPE_CHECKING:
    from api.cloudtrail.lineage import Lineage
    from api.cloudtrail.principals import PrincipalRef
    from api.cloudtrail.reads import Issuance, SessionUsage

Accounts = frozenset[str] | None
REDACTED = "redacted:"
_PARAM = "scope_accounts"


def account_clause(column: str, accounts: Accounts, params: dict[str, object]) -> str:
    """A SQL condition keeping rows whose `column` (an identifier from code) is one of the accounts;
    `1` for an unlimited token. Adds the bound parameter it uses to `params`."""
    if accounts is None:
        return "1"
    params[_PARAM] = sorted(accounts)
    return f"{column} IN {{{_PARAM}:Array(String)}}"


def allows(accounts: Accounts, account: str | None) -> bool:
    return accounts is None or (bool(account) and account in accounts)


def arn_account(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 4 else ""


def issuance_account(issuance: Issuance) -> str:
    """The account a minted credential belongs to: its role's, else the federated user's or the
    caller's own (GetSessionToken, GetFederationToken)."""
    return (
        arn_account(issuance.role_arn)
        or arn_account(issuance.federated_user_arn)
        or issuance.caller_account_id
        or issuance.recipient_account_id
    )


def usage_account(usage: SessionUsage) -> str:
    return usage.account_id or arn_account(usage.role_arn)


def visible_keys(store: Store, keys: Sequence[str], accounts: Accounts) -> set[str]:
    """The credential keys among `keys` that belong to one of the accounts (one query)."""
    if accounts is None:
        return set(keys)
    if not keys:
        return set()
    params: dict[str, object] = {"keys": sorted(set(keys))}
    allowed = account_clause("account", accounts, params)
    rows = store.read(
        f"""SELECT key FROM (
            SELECT session_key AS key, max(account_id) AS account FROM {tables.CLOUDTRAIL_SESSIONS}
            WHERE session_key IN {{keys:Array(String)}} GROUP BY session_key
            UNION ALL
            SELECT access_key_id AS key, multiIf(
                role_arn != '', splitByChar(':', role_arn)[5],
                federated_user_arn != '', splitByChar(':', federated_user_arn)[5],
                caller_account_id != '', toString(caller_account_id),
                toString(recipient_account_id)) AS account
            FROM {tables.CLOUDTRAIL_ISSUANCES} WHERE access_key_id IN {{keys:Array(String)}}
            UNION ALL
            SELECT session_key AS key, toString(any(identity_account_id)) AS account
            FROM {tables.CLOUDTRAIL_EVENTS}
            WHERE session_key IN {{long_term:Array(String)}} AND NOT is_temporary GROUP BY session_key
        ) WHERE {allowed}""",
        {**params, "long_term": sorted(k for k in set(keys) if not k.startswith("ASIA"))},
    )
    return {str(row[0]) for row in rows}


def redact(line: Lineage, accounts: Accounts) -> Lineage:
    """A lineage as a limited token sees it: hops, origin and gap in other accounts hidden."""
    if accounts is None:
        return line
    # ancestors[i] is the caller named by the minting record of the hop below it (issuances[i]).
    ancestors = tuple(
        key if i < len(line.issuances) and allows(accounts, line.issuances[i].caller_account_id)
        else f"{REDACTED}{i + 1}"
        for i, key in enumerate(line.ancestors)
    )  # fmt: skip
    return dataclasses.replace(
        line,
        ancestors=ancestors,
        issuances=tuple(i for i in line.issuances if allows(accounts, issuance_account(i))),
        origin=_ref(line.origin, accounts),
        gap=line.gap if line.gap and allows(accounts, line.gap.account_id) else None,
        federated_user=_ref(line.federated_user, accounts),
    )


def _ref(ref: PrincipalRef | None, accounts: Accounts) -> PrincipalRef | None:
    return ref if ref is not None and allows(accounts, ref.account_id) else None


def keep_usages(found: dict[str, SessionUsage], accounts: Accounts) -> dict[str, SessionUsage]:
    return {k: u for k, u in found.items() if allows(accounts, usage_account(u))}


def keep_issuances(found: dict[str, Issuance], accounts: Accounts) -> dict[str, Issuance]:
    return {k: i for k, i in found.items() if allows(accounts, issuance_account(i))}


def keep_records(
    found: dict[tuple[str, str, str], str], accounts: Accounts
) -> dict[tuple[str, str, str], str]:
    return {k: raw for k, raw in found.items() if allows(accounts, k[1])}


def keep_keys(store: Store, groups: dict[str, list[str]], accounts: Accounts) -> dict[str, list[str]]:
    """Lists of keys (a parent's children) with the hidden ones dropped (one query for all)."""
    visible = visible_keys(store, sorted({k for keys in groups.values() for k in keys}), accounts)
    return {parent: [k for k in keys if k in visible] for parent, keys in groups.items()}


def redacted_lineages(
    store: Store, lineages: dict[str, Lineage], keys: Iterable[str], accounts: Accounts
) -> dict[str, Lineage]:
    """The lineages of the visible keys among `keys`, redacted."""
    visible = visible_keys(store, sorted(set(keys)), accounts)
    return {k: redact(line, accounts) for k, line in lineages.items() if k in visible}
