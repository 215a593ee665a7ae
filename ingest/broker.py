"""The Dramatiq broker: Redis when a URL is configured, in-process otherwise.

Import this and call setup_broker() before importing ingest.actors: actors bind to the broker
that is current when they are declared.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

from ingest.settings import IngestSettings


def setup_broker(settings: IngestSettings) -> dramatiq.Broker:
    """Build the broker from settings and make it the global Dramatiq broker."""
    broker: dramatiq.Broker
    if settings.redis_url:
        broker = RedisBroker(url=settings.redis_url, namespace="roletrail")  # type: ignore[no-untyped-call]
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    dramatiq.set_broker(broker)
    return broker
