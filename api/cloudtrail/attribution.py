"""Who used what: the credentials behind a principal or a role, resolved through lineage.

A principal's credentials are every key whose chain leads to it: the ones its own calls minted
(found through indexed candidates), their descendants (walked down by caller key), and console
sessions started from them; a key counts only when its resolved origin is the principal, so the
downward walk and the upward one always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from api.cloudtrail import lineage, reads
from api.cloudtrail.principals import PrincipalRef
from clickhouse.client import Store


@dataclass(frozen=True)
class PrincipalCredentials:
    keys: tuple[str, ...]
    lineages: dict[str, lineage.Lineage]


def principal_credentials(store: Store, kind: str, identifier: str) -> PrincipalCredentials:
    """Every credential whose origin is the principal (kind, canonical identifier)."""
    minted, usage_keys = reads.principal_candidates(store, kind, identifier)
    found = set(minted) | set(usage_keys)
    frontier = set(found)
    for _ in range(reads.MAX_CHAIN_DEPTH):
        if not frontier:
            break
        below = {key for keys in reads.children(store, sorted(frontier)).values() for key in keys}
        frontier = below - found
        found |= frontier
    console = reads.console_sessions(store, _console_starts(store, sorted(found)))
    found |= set(console)
    resolved = lineage.resolve(store, sorted(found))
    # A federation token user's credentials are the tokens minted for it; everyone else's are the
    # credentials whose chain leads to them.
    keys = tuple(
        sorted(
            k
            for k, line in resolved.items()
            if _is(line.federated_user if kind == "FEDERATION_TOKEN_USER" else line.origin, kind, identifier)
        )
    )
    return PrincipalCredentials(keys, {k: resolved[k] for k in keys})


def _console_starts(store: Store, keys: list[str]) -> list[tuple[str, datetime]]:
    minted = reads.issuances(store, keys)
    return [(i.assumed_role_id, i.issued_at) for i in minted.values() if i.assumed_role_id]


def _is(origin: PrincipalRef | None, kind: str, identifier: str) -> bool:
    return origin is not None and origin.kind.value == kind and origin.identifier == identifier


@dataclass(frozen=True)
class RoleCredentials:
    keys: tuple[str, ...]
    lineages: dict[str, lineage.Lineage]


def role_credentials(store: Store, role_arn: str) -> RoleCredentials:
    """Every credential of a role, with its lineage (so its origin)."""
    keys = reads.role_keys(store, role_arn)
    resolved = lineage.resolve(store, keys)
    return RoleCredentials(tuple(keys), resolved)
