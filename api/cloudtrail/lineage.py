"""Lineage: from a credential up its chain of minting records to the origin, or to an honest gap.

Resolved at query time, level by level for all keys of a request together (a handful of indexed
lookups per level), so the answer never depends on the order files were loaded in: a credential
used before its minting record arrived gets its chain as soon as the record is loaded.

Each hop is the minting record of the current credential: found by its key, or, for console
sessions whose calls carry another key, by (assumedRoleId, creation date). A hop whose caller is
itself a temporary session leads to that session; a hop whose caller is a user, a federated
identity, a workload or a service ends the chain at that principal. The role owner's copy of a
cross-account call knows the caller only as an account and a principal id: the chain continues
only when that id is an IAM user's (unique, not chosen by the caller); a role session's id is a
session name the caller chose, so joining by it would be a guess: the chain ends in a gap that
names the account, principal and time to look for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from api.cloudtrail import reads
from api.cloudtrail.principals import (
    PrincipalKind,
    PrincipalRef,
    caller_principal,
    federated_user,
    minted_for,
    usage_principal,
)
from clickhouse.client import Store

MAX_DEPTH = reads.MAX_CHAIN_DEPTH


@dataclass(frozen=True)
class Gap:
    """A hop whose minting record is not in the store."""

    account_id: str
    role_arn: str
    principal_id: str
    time: datetime


@dataclass(frozen=True)
class Lineage:
    key: str
    issuance: reads.Issuance | None
    ancestors: tuple[str, ...]
    issuances: tuple[reads.Issuance, ...]
    origin: PrincipalRef | None
    gap: Gap | None
    # For a federation token: the federated user it was minted for (its origin is the minter).
    federated_user: PrincipalRef | None

    @property
    def transitive_tags(self) -> dict[str, str]:
        return self.issuance.transitive_tags if self.issuance else {}


@dataclass
class _Walk:
    key: str
    current: str
    ancestors: list[str] = field(default_factory=list)
    hops: list[reads.Issuance] = field(default_factory=list)
    done: Lineage | None = None

    def finish(self, origin: PrincipalRef | None, gap: Gap | None = None) -> None:
        own = self.hops[0] if self.hops else None
        federated = federated_user(own) if own else None
        self.done = Lineage(self.key, own, tuple(self.ancestors), tuple(self.hops), origin, gap, federated)


def resolve(store: Store, keys: Sequence[str]) -> dict[str, Lineage]:
    """The lineage of each key (one batch of lookups per level of chain depth)."""
    walks = [_Walk(key, key) for key in dict.fromkeys(keys)]
    for _ in range(MAX_DEPTH):
        active = [w for w in walks if w.done is None]
        if not active:
            break
        _step(store, active)
    for walk in walks:
        if walk.done is None:
            walk.finish(None, _gap_at_top(walk))
    return {w.key: w.done for w in walks if w.done is not None}


def _step(store: Store, walks: list[_Walk]) -> None:
    frontier = sorted({w.current for w in walks})
    minted = reads.issuances(store, frontier)
    missing = [key for key in frontier if key not in minted]
    usages = reads.session_usage(store, missing)
    minted.update(_by_role_session(store, usages))
    owner_copies = [i for i in minted.values() if i.caller_identity_type == "AWSAccount"]
    users = reads.user_arns(
        store, sorted({i.caller_principal_id for i in owner_copies if ":" not in i.caller_principal_id})
    )
    for walk in walks:
        issuance = minted.get(walk.current)
        if issuance is None:
            _end_without_record(walk, usages.get(walk.current))
        else:
            _climb(walk, issuance, users)


def _by_role_session(store: Store, usages: dict[str, reads.SessionUsage]) -> dict[str, reads.Issuance]:
    """Console sessions: calls carry a key that no record minted; join by principal + creation."""
    wanted = {
        key: (u.principal_id, u.creation_date)
        for key, u in usages.items()
        if u.identity_type == "AssumedRole" and u.creation_date and ":" in u.principal_id
    }
    if not wanted:
        return {}
    found = reads.issuances_by_role_session(store, [(p, c) for p, c in wanted.values() if c])
    result: dict[str, reads.Issuance] = {}
    for key, (principal, created) in wanted.items():
        if created is None:
            continue
        issuance = found.get(principal + "@" + reads.utc(created).isoformat())
        if issuance is not None:
            result[key] = issuance
    return result


def _climb(walk: _Walk, issuance: reads.Issuance, users: dict[str, str]) -> None:
    walk.hops.append(issuance)
    parent = issuance.caller_session_key
    seen = {walk.key, *walk.ancestors}
    if issuance.caller_is_session and parent and parent not in seen:
        walk.ancestors.append(parent)
        walk.current = parent
        return
    if issuance.caller_identity_type == "AWSAccount":
        user = users.get(issuance.caller_principal_id)
        if user:
            # An IAM user id (AIDA…) is unique: its ARN from any of its calls names the caller.
            name = user.rsplit("/", 1)[-1]
            walk.finish(PrincipalRef(PrincipalKind.IAM_USER, user, name, issuance.caller_account_id))
            return
        account = issuance.caller_account_id
        gap = Gap(account, "", issuance.caller_principal_id, reads.utc(issuance.issued_at))
        walk.finish(_account(account), gap)
        return
    origin = minted_for(issuance)
    if origin is None:
        # The caller was a role session whose key the record does not show (some AWS examples).
        gap = Gap(
            issuance.caller_account_id,
            issuance.caller_session_issuer_arn,
            issuance.caller_principal_id,
            reads.utc(issuance.issued_at),
        )
        walk.finish(_account(issuance.caller_account_id), gap)
        return
    walk.finish(origin)


def _end_without_record(walk: _Walk, usage: reads.SessionUsage | None) -> None:
    """The current credential has no minting record in the store."""
    inferred = usage_principal(usage) if usage else None
    if not walk.hops:
        if inferred:
            walk.finish(inferred)
        elif usage and usage.identity_type in ("AssumedRole", "Role"):
            time = usage.creation_date or usage.first_seen
            walk.finish(None, Gap(usage.account_id, usage.role_arn, usage.principal_id, reads.utc(time)))
        else:
            walk.finish(None)
        return
    child = walk.hops[-1]
    # A parent key named by its child's record: users, root and federated users are their own
    # principal (console and session-token keys have no minting record of their own).
    if child.caller_identity_type in ("IAMUser", "Root", "FederatedUser"):
        walk.finish(caller_principal(child))
        return
    if inferred:
        walk.finish(inferred)
        return
    # Who minted this ancestor is unknown (so is its caller's account): a gap, and no origin.
    walk.finish(None, _gap_at_top(walk, usage))


def _gap_at_top(walk: _Walk, usage: reads.SessionUsage | None = None) -> Gap | None:
    if not walk.hops:
        return None
    child = walk.hops[-1]
    created = usage.creation_date if usage and usage.creation_date else child.issued_at
    role = usage.role_arn if usage else child.caller_session_issuer_arn
    account = child.caller_account_id or (usage.account_id if usage else "")
    return Gap(account, role, child.caller_principal_id, reads.utc(created))


def _account(account_id: str) -> PrincipalRef | None:
    if not account_id:
        return None
    return PrincipalRef(PrincipalKind.AWS_ACCOUNT, account_id, f"account {account_id}", account_id)
