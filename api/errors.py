"""Errors clients may see. Anything else is masked and logged with a request id.

Every error a resolver raises reaches the client in one of three forms:

* `BadRequest` / `Forbidden`: the message as written, with `extensions.code`;
* a query that ran into the store's execution time limit (`QueryTimeout`): a fixed, clear message
  with `extensions.code = QUERY_TIMEOUT` (ClickHouse's own text stays in the server log);
* anything else: "Internal error" with `extensions.requestId`; the exception and that id are logged.

GraphQL's own errors (syntax, unknown fields, depth and token limits) carry no original exception
and pass unchanged: they describe the client's query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from clickhouse.errors import QueryTimeout

log = logging.getLogger(__name__)

INTERNAL_MESSAGE = "Internal error; the server log has the details under this request id"
TIMEOUT_MESSAGE = (
    "The query ran longer than the server's time limit ({limit:g} s) and was stopped; "
    "ask for a narrower time range or fewer items"
)


class ClientError(Exception):
    """An error whose message is written for the client and shown as is."""

    code = "CLIENT_ERROR"

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies an original error's `extensions` into the error sent to the client.
        return {"code": self.code}


class BadRequest(ClientError):
    """A client mistake (bad argument, cursor, scope): its message is shown to the client."""

    code = "BAD_REQUEST"


class Forbidden(ClientError):
    """The token may not do this: its message is shown to the client."""

    code = "FORBIDDEN"


VISIBLE_ERRORS = (ClientError,)


def should_mask(error: GraphQLError) -> bool:
    """Whether an error's message must be replaced before it reaches the client."""
    original = error.original_error
    if original is None or isinstance(original, GraphQLError):
        # GraphQL's own errors (syntax, unknown field, depth, a variable that does not coerce)
        # describe the client's query.
        return False
    return not isinstance(original, VISIBLE_ERRORS)


def request_id_of(context: object) -> str:
    return str(getattr(context, "request_id", "") or "-")


def log_errors(errors: Iterable[GraphQLError], request_id: str) -> None:
    """One log line per error, by kind: the server log is where masked details go."""
    for error in errors:
        original = error.original_error
        path = ".".join(str(part) for part in error.path or ()) or "-"
        if not should_mask(error):
            log.info("request=%s path=%s client error: %s", request_id, path, error.message)
        elif isinstance(original, QueryTimeout):
            log.warning("request=%s path=%s query timed out: %s", request_id, path, original)
        else:
            trace = (type(original), original, original.__traceback__) if original else None
            log.error("request=%s path=%s unexpected error: %r", request_id, path, original, exc_info=trace)


class ErrorMasking(MaskErrors):
    """Strawberry's MaskErrors, with a clear message for timeouts and the request id in every masked
    error (the schema's `process_errors` logs the details under that id).

    Built once per request (the schema holds a factory), so it can read the request's context.
    """

    def __init__(self) -> None:
        super().__init__(should_mask_error=should_mask, error_message=INTERNAL_MESSAGE)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        context = self.execution_context.context
        request_id = request_id_of(context)
        if isinstance(error.original_error, QueryTimeout):
            store = getattr(context, "store", None)
            limit = float(getattr(getattr(store, "settings", None), "query_timeout_seconds", 0) or 0)
            message = TIMEOUT_MESSAGE.format(limit=limit)
            extensions = {"code": "QUERY_TIMEOUT", "requestId": request_id}
        else:
            message = self.error_message
            extensions = {"code": "INTERNAL", "requestId": request_id}
        return GraphQLError(
            message=message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            path=error.path,
            original_error=None,
            extensions=extensions,
        )
