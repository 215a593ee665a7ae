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
from clickhouse.client import Store

K = TypeVar("K")
V = TypeVar("V")


def _loader(store: Store, fetch: Callable[[Store, Sequence[K]], dict[K, V]]) -> DataLoader[K, V | None]:
    async def batch(keys: list[K]) -> list[V | None]:
        found = await run_in_threadpool(fetch, store, keys)
        return [found.get(key) for key in keys]

    return DataLoader(load_fn=batch)


@dataclass
class Loaders:
    usage: DataLoader[str, reads.SessionUsage | None]
    issuance: DataLoader[str, reads.Issuance | None]
    chain: DataLoader[str, list[reads.Issuance] | None]
    raw: DataLoader[tuple[str, str, str], str | None]

    @classmethod
    def create(cls, store: Store) -> Loaders:
        return cls(
            usage=_loader(store, reads.session_usage),
            issuance=_loader(store, reads.issuances),
            chain=_loader(store, reads.chains),
            raw=_loader(store, reads.raw_records),
        )
