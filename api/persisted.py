"""Automatic persisted queries (Apollo's APQ protocol) in front of the GraphQL endpoint.

A request whose `extensions.persistedQuery` is `{"version": 1, "sha256Hash": h}`:

* without a query: runs the query registered under h, or answers the GraphQL error
  `PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND) so the client sends it again in full;
* with a query: registers it under h once sha256(query) == h (else 400), then runs it.

Works on JSON POST bodies and on GET query-string parameters (`extensions` as a JSON string) by
rewriting the request before the GraphQL app reads it. Anything else passes unchanged. The layer
also records the operation name in `scope["state"]["graphql_operation"]` for the audit log.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

NOT_FOUND = "PersistedQueryNotFound"
NOT_FOUND_CODE = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "provided sha does not match query"
SHA256 = re.compile(r"[0-9a-f]{64}")
OPERATION_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,127}")
FIRST_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]{0,127})")
# A query longer than this still runs but is not kept (the cache is bounded in entries, not bytes).
MAX_STORED_QUERY = 64 * 1024


class QueryCache:
    """A thread-safe LRU map from sha256 hex to query text."""

    def __init__(self, max_entries: int = 1000) -> None:
        self.max_entries = max_entries
        self._queries: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, sha: str) -> str | None:
        with self._lock:
            query = self._queries.get(sha)
            if query is not None:
                self._queries.move_to_end(sha)
            return query

    def put(self, sha: str, query: str) -> None:
        with self._lock:
            self._queries[sha] = query
            self._queries.move_to_end(sha)
            while len(self._queries) > self.max_entries:
                self._queries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._queries)


def sha256_hex(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def operation_name(operation: object, query: object) -> str:
    """The operation's name for the log: `operationName` if valid, else the query's first named
    operation, else "-" (never free client text, so log lines cannot be forged)."""
    if isinstance(operation, str) and OPERATION_NAME.fullmatch(operation):
        return operation
    if isinstance(query, str):
        match = FIRST_OPERATION.match(query)
        if match:
            return match.group(1)
    return "-"


class _Refused(Exception):
    def __init__(self, response: JSONResponse) -> None:
        self.response = response


def _graphql_error(message: str, code: str, status: int) -> _Refused:
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return _Refused(JSONResponse(body, status_code=status))


def _resolve(params: dict[str, Any], cache: QueryCache) -> bool:
    """Apply APQ to a request's parameters in place; True when they changed. Raises _Refused."""
    extensions = params.get("extensions")
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    if persisted is None:
        return False
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise _graphql_error("unsupported persistedQuery version", "PERSISTED_QUERY_NOT_SUPPORTED", 400)
    sha = persisted.get("sha256Hash")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha.lower()):
        raise _graphql_error("persistedQuery.sha256Hash must be 64 hex digits", "BAD_REQUEST", 400)
    sha = sha.lower()
    query = params.get("query")
    if query is None or query == "":
        stored = cache.get(sha)
        if stored is None:
            raise _graphql_error(NOT_FOUND, NOT_FOUND_CODE, 200)
        params["query"] = stored
    elif not isinstance(query, str) or sha256_hex(query) != sha:
        raise _graphql_error(HASH_MISMATCH, "BAD_REQUEST", 400)
    elif len(query) <= MAX_STORED_QUERY:
        cache.put(sha, query)
    rest = {k: v for k, v in extensions.items() if k != "persistedQuery"}  # type: ignore[union-attr]
    if rest:
        params["extensions"] = rest
    else:
        params.pop("extensions")
    return True


class PersistedQueries:
    """ASGI layer for the GraphQL route: resolves persisted queries, then calls the GraphQL app."""

    def __init__(self, app: ASGIApp, cache: QueryCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            if scope["method"] == "GET":
                scope = self._get(scope)
            elif scope["method"] == "POST":
                scope, receive = await self._post(scope, receive)
        except _Refused as refused:
            await refused.response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _note(self, scope: Scope, params: dict[str, Any]) -> None:
        name = operation_name(params.get("operationName"), params.get("query"))
        scope.setdefault("state", {})["graphql_operation"] = name

    def _get(self, scope: Scope) -> Scope:
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        params: dict[str, Any] = dict(pairs)
        raw_extensions = params.get("extensions")
        if isinstance(raw_extensions, str) and raw_extensions:
            try:
                params["extensions"] = orjson.loads(raw_extensions)
            except orjson.JSONDecodeError:
                raise _graphql_error("`extensions` must be a JSON object", "BAD_REQUEST", 400) from None
        changed = _resolve(params, self.cache)
        self._note(scope, params)
        if not changed:
            return scope
        if "extensions" in params:
            params["extensions"] = orjson.dumps(params["extensions"]).decode()
        query_string = urlencode(list(params.items())).encode("latin-1")
        return {**scope, "query_string": query_string}

    async def _post(self, scope: Scope, receive: Receive) -> tuple[Scope, Receive]:
        headers = dict(scope["headers"])
        if not headers.get(b"content-type", b"").startswith(b"application/json"):
            return scope, receive
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return scope, _replay(b"", receive, disconnected=True)
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return scope, _replay(body, receive)  # GraphQL's own answer to a bad body
        if not isinstance(params, dict):
            return scope, _replay(body, receive)
        changed = _resolve(params, self.cache)
        self._note(scope, params)
        if not changed:
            return scope, _replay(body, receive)
        body = orjson.dumps(params)
        rewritten = [(k, v) for k, v in scope["headers"] if k != b"content-length"]
        rewritten.append((b"content-length", str(len(body)).encode()))
        return {**scope, "headers": rewritten}, _replay(body, receive)


def _replay(body: bytes, original: Receive, *, disconnected: bool = False) -> Receive:
    """A receive that gives the body already read once, then waits on the client as before."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if disconnected:
            return {"type": "http.disconnect"}
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
