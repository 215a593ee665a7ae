"""Finding an EC2 instance that CloudTrail does not know (flows, inventory or findings only)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from api.cloudtrail.principal_types import Principal
from api.cloudtrail.principals import PrincipalKind, PrincipalRef
from api.context import Info
from api.instances.reads import known_instance
from api.scoping import allows


async def instance_without_sessions(info: Info, instance_id: str) -> Principal | None:
    account = await run_in_threadpool(known_instance, info.context.store, instance_id)
    if account is None or not allows(info.context.accounts, account):
        return None
    return Principal.from_ref(PrincipalRef(PrincipalKind.EC2_INSTANCE, instance_id, instance_id, account))
