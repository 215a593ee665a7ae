-- Continuous ingestion from S3: configured sources, backfills and their parts, follow-loop state.
-- Objects themselves stay in the ledger (ingest_objects): it alone says what is loaded.

-- A source (a bucket and prefix in the AWSLogs/ layout, optionally an SQS queue of notifications),
-- configured through the admin API (origin 'api') or mirrored from the sources file ('file').
-- The newest row per name wins; a deleted source keeps a row with deleted = 1.
CREATE TABLE IF NOT EXISTS ingest_sources
(
    name String,
    origin LowCardinality(String),
    bucket String,
    prefix String,
    queue_url String,
    poll Bool,
    poll_interval_seconds UInt32,
    profile String,
    region String,
    endpoint_url String,
    deleted Bool,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
-- Read whole (a handful of rows) by the follow loop and the API.
ORDER BY name;

-- statement-break

-- A backfill: load everything under a source for a range of days. state: pending (asked, not yet
-- started by a follow loop), running, finished. expired_before: days before it were past the
-- retention when the backfill was planned and were not loaded (recorded per part as 'expired').
-- run_started_at: the latest (re)start; objects the ledger credits to job_id since then count as
-- loaded by this run, the rest as already loaded.
CREATE TABLE IF NOT EXISTS ingest_backfills
(
    backfill_id String,
    job_id String,
    source String,
    first_day Date,
    last_day Date,
    retention_days UInt32,
    expired_before Nullable(Date),
    warning String,
    state LowCardinality(String),
    planned Bool,
    parts_planned UInt32,
    run_started_at DateTime64(3, 'UTC'),
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY backfill_id;

-- statement-break

-- One part of a backfill: a stream prefix (account, log type, region) over some days of one month.
-- status: discovered (listed, its objects enqueued or already loaded) or expired (past the
-- retention: not listed, so raising the retention and running the backfill again loads it).
CREATE TABLE IF NOT EXISTS ingest_backfill_parts
(
    backfill_id String,
    part String,
    status LowCardinality(String),
    first_day Date,
    last_day Date,
    objects_found UInt64,
    objects_already_loaded UInt64,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (backfill_id, part);

-- statement-break

-- What the follow loop last did for a source: its last poll and SQS receive, the objects they
-- found, and its last error (a listing refused, a queue missing), shown in ingest health.
CREATE TABLE IF NOT EXISTS ingest_source_state
(
    source String,
    last_poll_at Nullable(DateTime64(3, 'UTC')),
    last_notification_at Nullable(DateTime64(3, 'UTC')),
    objects_enqueued UInt64,
    notifications UInt64,
    errors UInt64,
    last_error String,
    last_error_at Nullable(DateTime64(3, 'UTC')),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY source;
