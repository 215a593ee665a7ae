"""The store handle: clients shared by the threads of a process."""

from __future__ import annotations

import threading

import pytest

from clickhouse.client import Store

pytestmark = pytest.mark.clickhouse


def test_the_store_reuses_clients_across_threads(store: Store) -> None:
    # Arrange: many short-lived threads, as a server's threadpool renews them
    opened = store.clients_opened
    # Act
    for _ in range(20):
        worker = threading.Thread(target=store.scalar, args=("SELECT 1",))
        worker.start()
        worker.join()
    # Assert: one call at a time needs one client, whichever thread makes it
    assert store.clients_opened - opened <= 1
