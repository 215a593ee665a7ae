"""Errors clients may see. Anything else is masked and logged with a request id."""

from __future__ import annotations

from graphql import GraphQLError


class BadRequest(Exception):
    """A client mistake (bad argument, cursor, scope): its message is shown to the client."""


class Forbidden(Exception):
    """The token may not do this: its message is shown to the client."""


VISIBLE_ERRORS = (BadRequest, Forbidden)


def should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    if original is None:
        return False  # GraphQL validation errors (syntax, unknown field, depth) are the client's
    from clickhouse.errors import QueryTimeout

    return not isinstance(original, (*VISIBLE_ERRORS, QueryTimeout))
