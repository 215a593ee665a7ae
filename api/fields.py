"""A typed spelling of `@strawberry.field(description=...)`.

Strawberry types the decorator form with arguments as `Any`, which mypy --strict reports as an
untyped decorator on every resolver; this wrapper keeps the resolver's own signature.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import strawberry

Resolver = TypeVar("Resolver", bound=Callable[..., Any])


def field(description: str, *, name: str | None = None) -> Callable[[Resolver], Resolver]:
    decorator: Callable[[Resolver], Resolver] = strawberry.field(description=description, name=name)
    return decorator
