"""The follow loop: keep up with new objects of every configured source, and drive backfills.

Each tick, for every source:
- poll (when `poll` is on and its interval has passed): list the day prefixes of yesterday and
  today (UTC) of each stream (`…AWSLogs/[o-…/]<account>/<service>/<region>/`) and enqueue what the
  ledger does not hold. A day prefix holds a few hundred objects per stream, one or a few
  requests; the streams themselves are listed again once an hour, so a new account or region is
  picked up without listing the bucket.
- drain its SQS queue (when `queue_url` is set): every notification shape of ingest.notifications;
  a message is deleted once its objects are enqueued, and a message that cannot be read is
  recorded as the source's error and deleted (SQS redrive would only bring it back).
- start pending backfills, and mark running ones finished when everything is loaded.

Several workers may run the loop (distributed mode): a poll and a backfill start take a claim
first (ingest.claims), so one worker does each; objects are claimed before they are enqueued, so
an object seen by a poll and by a notification is loaded once. SQS gives each message to one
receiver.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from clickhouse import tables
from clickhouse.client import Store
from clickhouse.errors import StorageError
from ingest import backfill, s3
from ingest.claims import Claims
from ingest.notifications import NotANotification, Notice, parse_message
from ingest.sources import ObjectRef
from ingest.sourcesconfig import SourceConfig, SourceError, connect, stored_sources, sync_file

log = logging.getLogger(__name__)

STREAMS_REFRESH = timedelta(hours=1)
POLL_THREADS = 8
POLL_STREAMS_AT_ONCE = 32
RECEIVE_BATCHES = 20
_STATE_COLUMNS = (
    "source", "last_poll_at", "last_notification_at", "objects_enqueued", "notifications", "errors",
    "last_error", "last_error_at", "updated_at",
)  # fmt: skip


def follow_job(source: str) -> str:
    """The job id the ledger credits objects found by following a source."""
    return f"follow:{source}"


@dataclass
class _Streams:
    prefixes: list[str] = field(default_factory=list)
    listed_at: datetime | None = None


@dataclass
class Follower:
    """One process's follow loop over the configured sources."""

    store: Store
    claims: Claims
    enqueue: backfill.EnqueueRefs
    send_plan: Callable[[str], None]
    sources_file: Path | None = None
    # An embedded server's queue lives in memory: backfills it was running are started again.
    resume_running: bool = False
    receive_wait_seconds: int = 1
    _streams: dict[str, _Streams] = field(default_factory=dict)
    _polled: dict[str, float] = field(default_factory=dict)
    _resumed: bool = False

    def start_thread(self, interval: float) -> tuple[threading.Thread, threading.Event]:
        stop = threading.Event()
        thread = threading.Thread(
            target=self.run, args=(stop, interval), name="roletrail-follow", daemon=True
        )
        thread.start()
        return thread, stop

    def run(self, stop: threading.Event, interval: float) -> None:
        if self.sources_file is not None:
            try:
                sync_file(self.store, self.sources_file)
            except SourceError as exc:
                log.error("sources file: %s", exc)
        while not stop.is_set():
            try:
                self.tick()
            except (StorageError, OSError) as exc:
                log.warning("follow loop: %s", exc)
            except Exception:  # the loop must outlive any one bad tick; the traceback is logged
                log.exception("follow loop: unexpected error")
            stop.wait(interval)

    def tick(self, now: datetime | None = None) -> None:
        """One pass: poll what is due, drain queues, start and finish backfills."""
        now = now or datetime.now(UTC)
        sources = stored_sources(self.store)
        connect(sources)
        for source in sources:
            if source.poll and self._due(source):
                self._guarded(source, functools.partial(self.poll, source, now))
            if source.queue_url:
                self._guarded(source, functools.partial(self.drain, source))
        self._backfills()

    def _due(self, source: SourceConfig) -> bool:
        last = self._polled.get(source.name)
        if last is not None and time.monotonic() - last < source.poll_interval_seconds:
            return False
        self._polled[source.name] = time.monotonic()
        # One poll per interval across every worker running the loop.
        return bool(self.claims.claim([f"poll:{source.name}"], source.poll_interval_seconds))

    def _guarded(self, source: SourceConfig, action: Callable[[], Any]) -> None:
        try:
            action()
        except (OSError, BotoCoreError, ClientError) as exc:
            log.warning("source %s: %s", source.name, exc)
            self._note(source.name, error=str(exc))

    # -- polling -------------------------------------------------------------------------------

    def streams(self, source: SourceConfig, now: datetime) -> list[str]:
        cached = self._streams.setdefault(source.name, _Streams())
        if cached.listed_at is None or now - cached.listed_at >= STREAMS_REFRESH:
            cached.prefixes = list(s3.stream_prefixes(source.bucket, source.prefix))
            cached.listed_at = now
        return cached.prefixes

    def poll(self, source: SourceConfig, now: datetime) -> int:
        """Enqueue the objects of yesterday's and today's day prefixes not loaded yet."""
        today = now.astimezone(UTC).date()
        streams = self.streams(source, now)

        def listed(stream: str) -> list[ObjectRef]:
            return list(s3.refs_for_days(source.bucket, stream, today - timedelta(days=1), today))

        enqueued = 0
        # Listings are round trips: a few streams at a time in parallel, enqueued as they come
        # (memory holds the objects of POLL_STREAMS_AT_ONCE streams, not of the whole source).
        with ThreadPoolExecutor(POLL_THREADS, thread_name_prefix="s3-list") as pool:
            for start in range(0, len(streams), POLL_STREAMS_AT_ONCE):
                for page in pool.map(listed, streams[start : start + POLL_STREAMS_AT_ONCE]):
                    enqueued += self.enqueue(follow_job(source.name), page)[0]
        self._note(source.name, polled=now, enqueued=enqueued)
        return enqueued

    # -- notifications -------------------------------------------------------------------------

    def drain(self, source: SourceConfig) -> int:
        """Receive the queue's messages until it is empty (or a bounded number of batches)."""
        sqs = s3.client(source.connection, "sqs")
        enqueued = 0
        for _ in range(RECEIVE_BATCHES):
            received = sqs.receive_message(
                QueueUrl=source.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=self.receive_wait_seconds
            ).get("Messages", [])
            if not received:
                break
            refs: list[ObjectRef] = []
            for message in received:
                refs += self._refs(source, message)
            enqueued += self.enqueue(follow_job(source.name), refs)[0]
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
            sqs.delete_message_batch(QueueUrl=source.queue_url, Entries=entries)
            self._note(
                source.name, notified=datetime.now(UTC), notifications=len(received), enqueued=enqueued
            )
        return enqueued

    def _refs(self, source: SourceConfig, message: dict[str, Any]) -> list[ObjectRef]:
        try:
            notices = parse_message(message.get("Body", ""))
        except NotANotification as exc:
            excerpt = str(message.get("Body", ""))[:200]
            self._note(
                source.name, error=f"unreadable queue message {message.get('MessageId')}: {exc}: {excerpt}"
            )
            return []
        refs = []
        for notice in notices:
            if notice.bucket != source.bucket or not notice.key.startswith(source.prefix):
                log.info("source %s: notification for %s/%s outside the source", source.name, notice.bucket,
                         notice.key)  # fmt: skip
                continue
            try:
                refs.append(self._ref(notice))
            except (FileNotFoundError, PermissionError) as exc:
                # Gone or refused: retrying the message cannot help; the source shows the error.
                self._note(source.name, error=f"notified object {notice.bucket}/{notice.key}: {exc}")
        return refs

    @staticmethod
    def _ref(notice: Notice) -> ObjectRef:
        if notice.size is None:
            return s3.head_ref(notice.bucket, notice.key)
        return s3.ref_of(notice.bucket, notice.key, notice.size)

    # -- backfills -----------------------------------------------------------------------------

    def _backfills(self) -> None:
        states: tuple[str, ...] = (backfill.PENDING,)
        if self.resume_running and not self._resumed:
            states = (backfill.PENDING, backfill.RUNNING)
            self._resumed = True
        for pending in backfill.backfills_in(self.store, states):
            if pending.state == backfill.PENDING and not self.claims.claim(
                [f"backfill:{pending.backfill_id}"], 3600
            ):
                continue
            log.info("starting backfill %s of %s", pending.backfill_id, pending.source)
            backfill.start(self.store, pending, self.send_plan)
        for running in backfill.backfills_in(self.store, (backfill.RUNNING,)):
            backfill.refresh(self.store, running)

    # -- state ---------------------------------------------------------------------------------

    def _note(
        self,
        source: str,
        *,
        polled: datetime | None = None,
        notified: datetime | None = None,
        enqueued: int = 0,
        notifications: int = 0,
        error: str = "",
    ) -> None:
        rows = self.store.rows(
            f"SELECT {', '.join(_STATE_COLUMNS[1:-1])} FROM {tables.INGEST_SOURCE_STATE} FINAL"
            " WHERE source = {source:String}",
            {"source": source},
        )
        last_poll, last_note, objects, notes, errors, last_error, error_at = (
            rows[0] if rows else (None, None, 0, 0, 0, "", None)
        )
        now = datetime.now(UTC)
        row = [
            source, polled or last_poll, notified or last_note, int(objects) + enqueued,
            int(notes) + notifications, int(errors) + (1 if error else 0), error[:1000] or last_error,
            now if error else error_at, now,
        ]  # fmt: skip
        self.store.insert(tables.INGEST_SOURCE_STATE, [row], _STATE_COLUMNS)
