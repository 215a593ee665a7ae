"""`GET /metrics`: ingest health in the Prometheus text format (version 0.0.4).

Authentication: like every API path, a bearer token is required; a `read` token is enough
(Prometheus: `authorization: {credentials: <token>}` in the scrape config). Give the scraper a
token of its own (`prometheus:read:<token>` in ROLETRAIL_API_TOKENS) so the audit log names it.

Series, labelled by source, account, region and log type (`log_type`):
`roletrail_ingest_last_object_timestamp_seconds`, `roletrail_ingest_last_load_timestamp_seconds`,
`roletrail_ingest_lag_seconds`, `roletrail_ingest_objects_loaded`, `roletrail_ingest_records_loaded`,
`roletrail_ingest_objects_with_errors`, `roletrail_ingest_records_bad`,
`roletrail_ingest_gap_hours` (hours without a CloudTrail delivery in the last 7 days); and per
source `roletrail_source_errors`, `roletrail_source_last_poll_timestamp_seconds`.
Counts come from the ledger, so they are gauges: they can go down when objects are reloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from api.health import reads
from clickhouse.client import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GAP_WINDOW = timedelta(days=7)

_STREAM_SERIES: tuple[tuple[str, str, Callable[[reads.StreamHealth, datetime], float | None]], ...] = (
    ("last_object_timestamp_seconds", "Delivery time of the newest object.",
     lambda s, _now: s.last_object_time.timestamp() if s.last_object_time else None),
    ("last_load_timestamp_seconds", "When the newest object was loaded.",
     lambda s, _now: s.last_load_time.timestamp() if s.last_load_time else None),
    ("lag_seconds", "Now minus the delivery time of the newest object.", lambda s, now: s.lag_seconds(now)),
    ("objects_loaded", "Objects in the ledger.", lambda s, _now: s.objects_loaded),
    ("records_loaded", "Records loaded.", lambda s, _now: s.records_loaded),
    ("objects_with_errors", "Objects failed or partly loaded.", lambda s, _now: s.objects_with_errors),
    ("records_bad", "Records that could not be loaded.", lambda s, _now: s.records_bad),
    ("gap_hours", "Hours without a CloudTrail delivery in the last 7 days.",
     lambda s, _now: sum(g.hours for g in s.gaps)),
)  # fmt: skip


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def render(streams: list[reads.StreamHealth], sources: list[reads.SourceState], now: datetime) -> str:
    """The exposition text for the streams and sources."""
    lines: list[str] = []
    for suffix, help_text, value_of in _STREAM_SERIES:
        name = f"roletrail_ingest_{suffix}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for stream in streams:
            value = value_of(stream, now)
            if value is not None:
                labels = _labels(
                    source=stream.source,
                    account=stream.account_id,
                    region=stream.region,
                    log_type=stream.log_type,
                )
                lines.append(f"{name}{labels} {_number(value)}")
    lines += [
        "# HELP roletrail_source_errors Errors of the follow loop.",
        "# TYPE roletrail_source_errors gauge",
    ]
    lines += [f"roletrail_source_errors{_labels(source=s.name)} {s.errors}" for s in sources]
    name = "roletrail_source_last_poll_timestamp_seconds"
    lines += [f"# HELP {name} When the source was last polled.", f"# TYPE {name} gauge"]
    lines += [
        f"{name}{_labels(source=s.name)} {_number(s.last_poll_at.timestamp())}"
        for s in sources
        if s.last_poll_at
    ]
    return "\n".join(lines) + "\n"


def metrics_endpoint(store: Store) -> Callable[[Request], object]:
    def collect() -> str:
        now = datetime.now(UTC)
        return render(reads.stream_health(store, now - GAP_WINDOW, now, now), reads.source_states(store), now)

    async def metrics(request: Request) -> Response:
        if request.scope.get("state", {}).get("token_accounts") is not None:
            # Series are labelled with every account: not for a token limited to some of them.
            return Response("a token limited to accounts may not read /metrics\n", status_code=403)
        return Response(await run_in_threadpool(collect), media_type=CONTENT_TYPE)

    return metrics
