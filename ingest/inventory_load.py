"""Loading an operator's EC2 inventory (describe-instances output, AWS Config snapshot) as an object.

Inventories are JSON files outside the CloudTrail layout, told apart by their first bytes
(ingest.load asks `inventory_kind` before reading a file as CloudTrail). One inventory is one
object in the ledger: records read = instances (and interface items) + entries without an id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ingest import instances
from ingest.load import FAILED, LOADED, PARTIAL, Loader, LoadResult, register_content_loader
from ingest.sources import CorruptObject, ObjectRef, object_stream


def load_inventory(loader: Loader, ref: ObjectRef, load_id: str) -> LoadResult:
    """Load one inventory file; bad content never raises (the result says what happened)."""
    stream = object_stream(ref)
    try:
        data = b"".join(stream.pieces())
        observed_at = datetime.now(UTC)
        found, unusable = instances.parse_inventory(data, observed_at, f"inventory:{ref.uri}")
    except (CorruptObject, ValueError) as exc:
        message = f"not a readable inventory: {exc}"[:1000]
        return LoadResult(ref.object_id, ref.uri, "ec2-inventory", FAILED, bytes_read=stream.bytes_read,
                          message=message)  # fmt: skip
    stored = instances.store_inventory(loader.store, found, observed_at, load_id)
    read = stored + unusable
    note = f"EC2 inventory: {stored} instances"
    if unusable:
        note += f"; {unusable} entries without an instance or interface id"
    return LoadResult(
        ref.object_id, ref.uri, "ec2-inventory", PARTIAL if unusable else LOADED, records_read=read,
        records_loaded=stored, records_bad=unusable, bytes_read=stream.bytes_read, message=note,
    )  # fmt: skip


register_content_loader(instances.inventory_kind, load_inventory)
