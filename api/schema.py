"""The GraphQL schema: the sources' Query classes merged, with limits and error masking installed."""

from __future__ import annotations

import strawberry
from strawberry.extensions import MaskErrors, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types

from api.cloudtrail.schema import Query as CloudTrailQuery
from api.cloudtrail.types import ALL_PRINCIPAL_TYPES
from api.errors import should_mask
from api.settings import ApiSettings

Query = merge_types("Query", (CloudTrailQuery,))


def build_schema(settings: ApiSettings) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        types=list(ALL_PRINCIPAL_TYPES),
        extensions=[
            QueryDepthLimiter(max_depth=settings.max_query_depth),
            MaxTokensLimiter(max_token_count=settings.max_query_tokens),
            MaskErrors(should_mask_error=should_mask, error_message="Internal error; see the server log"),
        ],
    )
