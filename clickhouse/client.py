"""The one way to reach ClickHouse: a DSN in, clients out, driver errors turned into StorageError.

The embedded engine (chdb://) and a server (http://) go through the same clickhouse-connect API;
nothing else in the code knows which one is in use. Clients are kept one per thread: the embedded
engine serialises calls on one handle, and an HTTP session must not run two queries at once.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import (
    ClickHouseError,
    DatabaseError,
    OperationalError,
    ProgrammingError,
)

from clickhouse.errors import BadInput, QueryTimeout, StorageError, StorageUnavailable, StoreLocked
from clickhouse.settings import StoreSettings

log = logging.getLogger(__name__)

Row = tuple[Any, ...]
Params = Mapping[str, Any]

_CODE = re.compile(r"Code: (\d+)")
_TIMEOUT_CODES = {159, 160}  # TIMEOUT_EXCEEDED, TOO_SLOW
_BAD_INPUT_CODES = {6, 26, 27, 38, 117, 241}  # cannot parse, bad JSON, incorrect data
# Retried a few times: the server is busy, not wrong.
_TRANSIENT_CODES = {202, 209, 210, 252, 425}
_RETRIES = 3


def error_code(exc: BaseException) -> int | None:
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn driver exceptions into StorageError subclasses (the error boundary of the store)."""
    try:
        yield
    except StorageError:
        raise
    except (OperationalError, ProgrammingError) as exc:
        if "lock" in str(exc).lower() or "unable to open the chdb engine" in str(exc).lower():
            raise StoreLocked(str(exc)) from exc
        raise StorageUnavailable(str(exc)) from exc
    except (DatabaseError, ClickHouseError) as exc:
        code = error_code(exc)
        if code in _TIMEOUT_CODES:
            raise QueryTimeout(str(exc)) from exc
        if code in _BAD_INPUT_CODES:
            raise BadInput(str(exc)) from exc
        raise StorageError(str(exc)) from exc
    except OSError as exc:
        raise StorageUnavailable(str(exc)) from exc


class Store:
    """A handle on the database of one process: a pool of clients on one DSN and database.

    A call borrows an idle client (or opens one) and gives it back: the embedded engine serialises
    calls on one handle and an HTTP session must not run two queries at once, so concurrent calls
    need clients of their own; pooling them (not one per thread) keeps their number at the
    concurrency actually reached, however often the server's threadpool renews its threads.
    """

    def __init__(self, settings: StoreSettings, *, database: str | None = None) -> None:
        self.settings = settings
        self.database = database or settings.clickhouse_database
        self._idle: list[Client] = []
        self._clients: list[Client] = []
        self._lock = threading.Lock()
        self.queries_run = 0

    def _connect(self, database: str | None) -> Client:
        dsn = self.settings.dsn
        if self.settings.embedded:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        with storage_errors():
            if self.settings.embedded:
                client = clickhouse_connect.get_client(dsn=dsn, database=database or "")
            else:
                # One HTTP session per client would serialise its queries: run without sessions.
                client = clickhouse_connect.get_client(
                    dsn=dsn, database=database or "", autogenerate_session_id=False
                )
        with self._lock:
            self._clients.append(client)
        return client

    @contextmanager
    def client(self) -> Iterator[Client]:
        """Borrow a client for one call."""
        with self._lock:
            client = self._idle.pop() if self._idle else None
        if client is None:
            client = self._connect(self.database)
        try:
            yield client
        finally:
            with self._lock:
                self._idle.append(client)

    @property
    def clients_opened(self) -> int:
        return len(self._clients)

    def server_client(self) -> Client:
        """A client with no default database, for creating the database itself."""
        return self._connect(None)

    def _run(self, method: str, *args: Any, **kwargs: Any) -> Any:
        for attempt in itertools.count(1):
            try:
                with storage_errors(), self.client() as client:
                    with self._lock:
                        self.queries_run += 1
                    result = getattr(client, method)(*args, **kwargs)
                    if method == "query":
                        # The rows stream from the client's own buffer as they are first read: read
                        # them before the client goes back to the pool, where another thread may
                        # take it (reading them later garbled answers under 16 concurrent clients).
                        _ = result.result_rows
                    return result
            except StorageError as exc:
                if error_code(exc) not in _TRANSIENT_CODES or attempt >= _RETRIES:
                    raise
                log.warning("transient ClickHouse error, retrying (%s): %s", attempt, exc)
                time.sleep(0.2 * attempt)
        raise AssertionError("unreachable")

    def rows(
        self, sql: str, params: Params | None = None, settings: Mapping[str, Any] | None = None
    ) -> list[Row]:
        """Run a read query with bound parameters and return its rows."""
        result = self._run("query", sql, parameters=dict(params or {}), settings=dict(settings or {}))
        return list(result.result_rows)

    def read(self, sql: str, params: Params | None = None) -> list[Row]:
        """A read on behalf of a user: bounded by the configured execution time."""
        limits = {"max_execution_time": self.settings.query_timeout_seconds, "timeout_overflow_mode": "throw"}
        return self.rows(sql, params, limits)

    def scalar(self, sql: str, params: Params | None = None) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    def command(
        self, sql: str, params: Params | None = None, settings: Mapping[str, Any] | None = None
    ) -> None:
        self._run("command", sql, parameters=dict(params or {}), settings=dict(settings or {}))

    def insert(
        self,
        table: str,
        rows: Sequence[Sequence[Any]],
        columns: Sequence[str],
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        if rows:
            self._run("insert", table, rows, column_names=list(columns), settings=dict(settings or {}))

    def raw_insert(
        self, table: str, columns: Sequence[str], data: bytes, fmt: str, settings: Mapping[str, Any]
    ) -> int:
        """Insert bytes in a ClickHouse input format; returns the rows written to `table` when known."""
        summary = self._run(
            "raw_insert",
            table,
            list(columns),
            insert_block=data,
            fmt=fmt,
            settings=dict(settings),
        )
        return int(summary.summary.get("written_rows", 0) or 0)

    def close(self) -> None:
        with self._lock:
            clients, self._clients, self._idle = self._clients, [], []
        for client in clients:
            try:
                client.close()
            except Exception:  # a client that failed to close is gone either way
                log.debug("closing a ClickHouse client failed", exc_info=True)
