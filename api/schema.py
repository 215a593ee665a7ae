"""The GraphQL schema: the sources' Query classes merged, with limits and error masking installed.

`python -m api.schema` prints the SDL; `python -m api.schema --write` rewrites the committed
`api/schema.graphql` (a test fails when the two differ).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxTokensLimiter, QueryDepthLimiter, SchemaExtension
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from api.cloudtrail.principal_types import ALL_PRINCIPAL_TYPES
from api.cloudtrail.schema import Query as CloudTrailQuery
from api.deviations.schema import Query as DeviationsQuery
from api.errors import ErrorMasking, log_errors, request_id_of
from api.guardduty.schema import Query as GuardDutyQuery
from api.health.schema import Query as HealthQuery
from api.ingest_schema import Mutation as IngestMutation
from api.ingest_schema import Query as IngestQuery
from api.pivots.schema import Query as PivotQuery
from api.search_types import Query as SearchQuery
from api.settings import ApiSettings
from api.tokens import Mutation as TokenMutation
from api.tokens import Query as TokenQuery

Query = merge_types(
    "Query",
    (
        CloudTrailQuery,
        PivotQuery,
        SearchQuery,
        IngestQuery,
        GuardDutyQuery,
        HealthQuery,
        DeviationsQuery,
        TokenQuery,
    ),
)
Mutation = merge_types("Mutation", (IngestMutation, TokenMutation))
SDL_PATH = Path(__file__).resolve().parent / "schema.graphql"


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Instead of Strawberry's one ERROR line per error: client mistakes at INFO, the rest with
        # the request id that the masked error shows the client.
        log_errors(errors, request_id_of(execution_context.context if execution_context else None))


def build_schema(settings: ApiSettings) -> strawberry.Schema:
    # Factories, not instances: Strawberry builds fresh extensions for every request, so the
    # error masking can read that request's context (its request id).
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        lambda: QueryDepthLimiter(max_depth=settings.max_query_depth),
        lambda: MaxTokensLimiter(max_token_count=settings.max_query_tokens),
        ErrorMasking,
    ]
    return Schema(query=Query, mutation=Mutation, types=list(ALL_PRINCIPAL_TYPES), extensions=extensions)


def sdl() -> str:
    """The printed schema, as committed in api/schema.graphql."""
    return build_schema(ApiSettings()).as_str() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.schema", description="Print the GraphQL SDL.")
    parser.add_argument("--write", action="store_true", help=f"rewrite {SDL_PATH.name} instead of printing")
    args = parser.parse_args(argv)
    if args.write:
        SDL_PATH.write_text(sdl(), encoding="utf-8")
        print(f"wrote {SDL_PATH}", file=sys.stderr)
    else:
        sys.stdout.write(sdl())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
