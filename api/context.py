"""The per-request context: settings, store, loaders and the authenticated principal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry

from api.loaders import Loaders
from api.settings import ApiSettings
from clickhouse.client import Store


@dataclass
class Context:
    settings: ApiSettings
    store: Store
    loaders: Loaders
    token_name: str
    request_id: str
    extras: dict[str, Any] = field(default_factory=dict)


Info = strawberry.Info[Context, None]
