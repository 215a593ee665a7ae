"""The GraphQL input that filters API call connections (api.cloudtrail.filters does the SQL)."""

from __future__ import annotations

import strawberry

from api.cloudtrail.filters import CallFilter
from api.errors import BadRequest

MAX_FILTER_LENGTH = 512


@strawberry.input(description="Narrows a list of API calls; every field given must match.")
class ApiCallFilter:
    service: str | None = strawberry.field(
        default=None, description="The service: `s3` or `s3.amazonaws.com`."
    )
    name: str | None = strawberry.field(default=None, description="The API (eventName), exactly.")
    errored: bool | None = strawberry.field(
        default=None, description="true: failed calls only; false: successful calls only."
    )
    error_code: str | None = strawberry.field(
        default=None, description="The errorCode, exactly (e.g. AccessDenied)."
    )
    source_ip: str | None = strawberry.field(
        default=None, description="The sourceIPAddress, exactly (an address or a service name)."
    )

    def to_filter(self) -> CallFilter:
        for name, value in (
            ("service", self.service),
            ("name", self.name),
            ("errorCode", self.error_code),
            ("sourceIp", self.source_ip),
        ):
            if value is not None and len(value) > MAX_FILTER_LENGTH:
                raise BadRequest(f"filter.{name} must be at most {MAX_FILTER_LENGTH} characters")
        return CallFilter(
            service=(self.service or "").strip() or None,
            name=(self.name or "").strip() or None,
            errored=self.errored,
            error_code=(self.error_code or "").strip() or None,
            source_ip=(self.source_ip or "").strip() or None,
        )
