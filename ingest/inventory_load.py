"""Loading an operator's EC2 inventory (describe-instances or describe-nat-gateways output, AWS Config
snapshot) as an object.

Inventories are JSON files outside the CloudTrail layout, told apart by their first bytes
(ingest.load asks `inventory_kind` before reading a file as CloudTrail). One inventory is one
object in the ledger: records read = instances (and interface items), or NAT gateways, + entries
without an id.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from ingest import instances, nat_gateways
from ingest.load import FAILED, LOADED, PARTIAL, Loader, LoadResult, register_content_loader
from ingest.sources import CorruptObject, ObjectRef, object_stream


def load_inventory(loader: Loader, ref: ObjectRef, load_id: str) -> LoadResult:
    """Load one inventory file; bad content never raises (the result says what happened)."""
    stream = object_stream(ref)
    gateways: list[nat_gateways.NatGateway] = []
    found: list[instances.InventoryInstance] = []
    try:
        data = b"".join(stream.pieces())
        observed_at = datetime.now(UTC)
        is_nat = instances.inventory_kind(data) == "describe-nat-gateways"
        if is_nat:
            gateways, unusable = nat_gateways.parse_nat_gateways(orjson.loads(data))
        else:
            found, unusable = instances.parse_inventory(data, observed_at, f"inventory:{ref.uri}")
    except (CorruptObject, ValueError) as exc:
        message = f"not a readable inventory: {exc}"[:1000]
        return LoadResult(ref.object_id, ref.uri, "ec2-inventory", FAILED, bytes_read=stream.bytes_read,
                          message=message)  # fmt: skip
    if is_nat:
        stored = nat_gateways.store_nat_gateways(loader.store, gateways, f"inventory:{ref.uri}")
        note, skipped = f"NAT gateways: {stored}", "entries without a gateway or VPC id"
    else:
        stored = instances.store_inventory(loader.store, found, observed_at, load_id)
        note, skipped = f"EC2 inventory: {stored} instances", "entries without an instance or interface id"
    if unusable:
        note += f"; {unusable} {skipped}"
    read = stored + unusable
    return LoadResult(
        ref.object_id, ref.uri, "ec2-inventory", PARTIAL if unusable else LOADED, records_read=read,
        records_loaded=stored, records_bad=unusable, bytes_read=stream.bytes_read, message=note,
    )  # fmt: skip


register_content_loader(instances.inventory_kind, load_inventory)
