"""The `search` root field: one list of hits across principals, roles, sessions, access keys and
IP addresses (api.search reads them)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from enum import Enum

import strawberry
from starlette.concurrency import run_in_threadpool

from api import search
from api.cloudtrail.principal_types import IamRole, Principal
from api.cloudtrail.profile import From
from api.cloudtrail.schema import scope
from api.cloudtrail.types import RoleSession, session_by_key
from api.context import Info
from api.errors import BadRequest
from api.fields import field
from api.pagination import page_size
from api.pivots.schema import find_access_key
from api.pivots.types import AccessKey, IpAddress, long_term_principal
from api.scoping import arn_account

DEFAULT_HITS = 20
ORDER = ("ACCESS_KEY", "SESSION", "ROLE", "PRINCIPAL", "IP_ADDRESS")


@strawberry.enum(description="What a search hit is.")
class SearchHitKind(Enum):
    ACCESS_KEY = "ACCESS_KEY"
    SESSION = "SESSION"
    ROLE = "ROLE"
    PRINCIPAL = "PRINCIPAL"
    IP_ADDRESS = "IP_ADDRESS"


@strawberry.type(description="One search hit: its kind, the field that matched, and the entity.")
class SearchHit:
    kind: SearchHitKind
    value: str = strawberry.field(description="The key, ARN, identifier or address found.")
    matched_on: str = strawberry.field(description="The field that contains the text (e.g. roleArn).")
    exact: bool = strawberry.field(description="The value is the text itself (case aside).")
    hit: strawberry.Private[search.Hit]
    start: strawberry.Private[datetime]
    end: strawberry.Private[datetime]

    @field(description="The session, for a SESSION hit.")
    async def session(self, info: Info) -> RoleSession | None:
        return await session_by_key(info, self.value) if self.hit.kind == "SESSION" else None

    @field(description="The role, for a ROLE hit.")
    def role(self) -> IamRole | None:
        return IamRole.of(self.value) if self.hit.kind == "ROLE" else None

    @field(description="The principal, for a PRINCIPAL hit.")
    def principal(self) -> Principal | None:
        if self.hit.kind != "PRINCIPAL":
            return None
        if self.hit.ref is not None:
            return Principal.from_ref(self.hit.ref)
        ref = long_term_principal("IAMUser", self.value, arn_account(self.value))
        return Principal.from_ref(ref) if ref else None

    @field(description="The access key, for an ACCESS_KEY hit.")
    async def access_key(self, info: Info) -> AccessKey | None:
        return await find_access_key(info, self.value) if self.hit.kind == "ACCESS_KEY" else None

    @field(description="The address, for an IP_ADDRESS hit (scoped as the search was).")
    def ip_address(self) -> IpAddress | None:
        return IpAddress.of(self.value, self.start, self.end) if self.hit.kind == "IP_ADDRESS" else None


@strawberry.type
class Query:
    @field(
        description="Principals, roles, sessions, access keys and IP addresses whose key, ARN, name, "
        "address or account contains `text` (at least 3 characters; case-insensitive). Exact matches "
        "first. Keys, users and addresses known only from calls are searched in the scope (default: the "
        "last 90 days)."
    )
    async def search(
        self, info: Info, text: str, first: int | None = None,
        from_: From = None, to: datetime | None = None,
    ) -> list[SearchHit]:  # fmt: skip
        text = text.strip()
        if not search.MIN_TEXT <= len(text) <= search.MAX_TEXT:
            raise BadRequest(f"`text` must be {search.MIN_TEXT} to {search.MAX_TEXT} characters")
        limit = page_size(first, DEFAULT_HITS, info.context.settings.max_page_size)
        start, end = scope(info, from_, to)
        store, accounts = info.context.store, info.context.accounts
        sessions, roles, principals, (keys, users) = await asyncio.gather(
            run_in_threadpool(search.sessions, store, text, limit, accounts),
            run_in_threadpool(search.roles, store, text, limit, accounts),
            run_in_threadpool(search.principals, store, text, limit, accounts),
            run_in_threadpool(search.long_term, store, text, start, end, limit, accounts),
        )
        addresses = []
        if search.looks_like_address(text):
            addresses = await run_in_threadpool(search.addresses, store, text, start, end, limit, accounts)
        known = {h.value for h in principals}
        hits = [
            *keys,
            *sessions,
            *roles,
            *principals,
            *(u for u in users if u.value not in known),
            *addresses,
        ]
        hits.sort(key=lambda h: (not h.exact, ORDER.index(h.kind)))
        return [
            SearchHit(kind=SearchHitKind(h.kind), value=h.value, matched_on=h.matched_on, exact=h.exact,
                      hit=h, start=start, end=end)
            for h in hits[:limit]
        ]  # fmt: skip
