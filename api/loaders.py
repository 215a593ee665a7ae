"""DataLoaders: one query per batch of keys, whatever the size of the result tree.

The store is synchronous (the embedded engine has no async client), so batch functions run it in
Starlette's threadpool, never on the event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from api.cloudtrail import reads
from api.cloudtrail.attribution import (
    PrincipalCredentials,
    RoleCredentials,
    principal_credentials,
    role_credentials,
)
from api.cloudtrail.lineage import Lineage, resolve
from api.scoped_reads import ScopedReads
from api.scoping import Accounts
from clickhouse.client import Store

K = TypeVar("K")
V = TypeVar("V")


def _loader(store: Store, fetch: Callable[[Store, Sequence[K]], dict[K, V]]) -> DataLoader[K, V | None]:
    async def batch(keys: list[K]) -> list[V | None]:
        found = await run_in_threadpool(fetch, store, keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=batch)


def _principals(store: Store, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], PrincipalCredentials]:
    return {key: principal_credentials(store, *key) for key in keys}


def _roles(store: Store, arns: Sequence[str]) -> dict[str, RoleCredentials]:
    return {arn: role_credentials(store, arn) for arn in arns}


@dataclass
class Loaders:
    usage: DataLoader[str, reads.SessionUsage | None]
    issuance: DataLoader[str, reads.Issuance | None]
    lineage: DataLoader[str, Lineage | None]
    children: DataLoader[str, list[str] | None]
    raw: DataLoader[tuple[str, str, str], str | None]
    principal: DataLoader[tuple[str, str], PrincipalCredentials | None]
    role: DataLoader[str, RoleCredentials | None]
    account_name: DataLoader[str, str | None]
    directory_user: DataLoader[str, reads.DirectoryUser | None]
    first_calls: DataLoader[reads.CallsRequest, reads.Page[reads.ApiCall] | None]

    @classmethod
    def create(cls, store: Store, accounts: Accounts = None) -> Loaders:
        """The loaders of one request; for a token limited to `accounts`, batch functions that drop
        or redact what it may not see (api.scoping)."""
        fetch = ScopedReads(accounts) if accounts is not None else None
        return cls(
            usage=_loader(store, fetch.usage if fetch else reads.session_usage),
            issuance=_loader(store, fetch.issuances if fetch else reads.issuances),
            lineage=_loader(store, fetch.lineage if fetch else resolve),
            children=_loader(store, fetch.children if fetch else reads.children),
            raw=_loader(store, fetch.raw if fetch else reads.raw_records),
            principal=_loader(store, fetch.principals if fetch else _principals),
            role=_loader(store, fetch.roles if fetch else _roles),
            account_name=_loader(store, reads.account_names),
            directory_user=_loader(store, reads.identity_center_users),
            first_calls=_loader(store, fetch.first_calls if fetch else reads.first_calls),
        )
