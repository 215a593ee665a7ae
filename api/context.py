"""The per-request context: settings, store, loaders and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from api.ingest_jobs import IngestService
from api.loaders import Loaders
from api.scoping import Accounts
from api.settings import ApiSettings
from api.token_store import ManagedTokens
from clickhouse.client import Store


@dataclass
class Context:
    settings: ApiSettings
    store: Store
    loaders: Loaders
    token_name: str
    request_id: str
    extras: dict[str, Any] = field(default_factory=dict)
    # The AWS accounts the token may read (None: all); api.scoping says what that hides.
    accounts: Accounts = None
    token_scope: str = ""
    ingest: IngestService = field(default_factory=IngestService)
    # Token management (api.tokens); None where the app was built without it.
    tokens: ManagedTokens | None = None


Info = strawberry.Info[Context, None]
