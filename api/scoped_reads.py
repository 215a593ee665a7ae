"""The DataLoader batch functions for a token limited to some accounts (rules in api.scoping).

Each wraps the unlimited batch function: it reads, then drops the rows of other accounts or
redacts the hops of a chain that lie in them, so a hidden row never reaches a GraphQL type.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from api import scoping
from api.cloudtrail import reads
from api.cloudtrail.attribution import (
    PrincipalCredentials,
    RoleCredentials,
    principal_credentials,
    role_credentials,
)
from api.cloudtrail.lineage import Lineage, resolve
from clickhouse.client import Store


@dataclass(frozen=True)
class ScopedReads:
    accounts: frozenset[str]

    def usage(self, store: Store, keys: Sequence[str]) -> dict[str, reads.SessionUsage]:
        visible = scoping.keep_usages(reads.session_usage(store, keys), self.accounts)
        return reads.visible_usage(store, visible, self.accounts)

    def issuances(self, store: Store, keys: Sequence[str]) -> dict[str, reads.Issuance]:
        return scoping.keep_issuances(reads.issuances(store, keys), self.accounts)

    def lineage(self, store: Store, keys: Sequence[str]) -> dict[str, Lineage]:
        visible = sorted(scoping.visible_keys(store, keys, self.accounts))
        return {k: scoping.redact(line, self.accounts) for k, line in resolve(store, visible).items()}

    def children(self, store: Store, keys: Sequence[str]) -> dict[str, list[str]]:
        visible = sorted(scoping.visible_keys(store, keys, self.accounts))
        return scoping.keep_keys(store, reads.children(store, visible), self.accounts)

    def raw(self, store: Store, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], str]:
        return scoping.keep_records(reads.raw_records(store, keys), self.accounts)

    def first_calls(
        self, store: Store, requests: Sequence[reads.CallsRequest]
    ) -> dict[reads.CallsRequest, reads.Page[reads.ApiCall]]:
        return reads.first_calls(store, requests, accounts=self.accounts)

    def principals(
        self, store: Store, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], PrincipalCredentials]:
        found = {}
        for key in keys:
            credentials = principal_credentials(store, *key)
            lines = scoping.redacted_lineages(store, credentials.lineages, credentials.keys, self.accounts)
            found[key] = PrincipalCredentials(tuple(sorted(lines)), lines)
        return found

    def roles(self, store: Store, arns: Sequence[str]) -> dict[str, RoleCredentials]:
        found = {}
        for arn in arns:
            if not scoping.allows(self.accounts, scoping.arn_account(arn)):
                continue
            credentials = role_credentials(store, arn)
            lines = scoping.redacted_lineages(store, credentials.lineages, credentials.keys, self.accounts)
            found[arn] = RoleCredentials(tuple(sorted(lines)), lines)
        return found
