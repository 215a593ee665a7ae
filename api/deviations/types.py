"""GraphQL types of deviations, shared by every slice that reports them (sessions, principals,
instances, findings). Computing them lives beside these types, not in them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry


class DeviationKind(StrEnum):
    NEW_API_CALL = "NEW_API_CALL"
    NEW_COUNTRY = "NEW_COUNTRY"
    NEW_CITY = "NEW_CITY"
    NEW_ASN = "NEW_ASN"
    NEW_USER_AGENT = "NEW_USER_AGENT"
    VOLUME_SPIKE = "VOLUME_SPIKE"
    IMPOSSIBLE_TRAVEL = "IMPOSSIBLE_TRAVEL"
    CREDENTIALS_OFF_INSTANCE = "CREDENTIALS_OFF_INSTANCE"
    NEW_REMOTE_ADDRESS = "NEW_REMOTE_ADDRESS"
    NEW_REMOTE_PORT = "NEW_REMOTE_PORT"


class BaselineLevel(StrEnum):
    """Whose history a value was compared with (first level first)."""

    PRINCIPAL_IN_ROLE = "PRINCIPAL_IN_ROLE"  # this origin principal in this role
    ROLE = "ROLE"  # anyone in this role
    ACCOUNT = "ACCOUNT"  # anyone in the account
    INSTANCE = "INSTANCE"  # this EC2 instance (its sessions, flows and inventory)


DeviationKindEnum = strawberry.enum(DeviationKind, name="DeviationKind")
BaselineLevelEnum = strawberry.enum(BaselineLevel, name="BaselineLevel")


@strawberry.type(description="The history a value was compared with.")
class Baseline:
    level: BaselineLevelEnum  # type: ignore[valid-type]
    window_start: datetime
    window_end: datetime
    days_observed: int = strawberry.field(description="Days in the window with any activity.")
    complete: bool = strawberry.field(
        description="False when the history starts after the window start: the baseline is younger "
        "than its window, and a 'new' value may only be new to the data loaded."
    )
    count: int = strawberry.field(default=0, description="Occurrences of the value in the window (0: new).")
    total: int = strawberry.field(default=0, description="All events of the baseline in the window.")


@strawberry.type(description="Something unusual about an entity against its baseline.")
class Deviation:
    kind: DeviationKindEnum  # type: ignore[valid-type]
    value: str
    first_seen: datetime | None = None
    severity: float = strawberry.field(default=0.0, description="0 to 1; higher is more unusual.")
    detail: str | None = None
    baselines: list[Baseline] = strawberry.field(default_factory=list)
    event_ids: list[str] = strawberry.field(
        default_factory=list, description="Ids of (some of) the calls that show it, earliest first."
    )
