-- Ledger of loaded objects, rejected records and store metadata.

-- One row per object (file or S3 object): its newest load outcome. object_id is derived from the
-- object's URI; checksum is the content's sha256 (files) or ETag (S3). ReplacingMergeTree keeps the
-- newest outcome; readers use FINAL. No TTL: the ledger is what tells a backfill what is already
-- done, and it stays small (one row per object).
CREATE TABLE IF NOT EXISTS ingest_objects
(
    object_id String,
    -- The id the object's rows carry in ingest_rejects and cloudtrail_events (object, size, retention).
    load_id String,
    job_id String,
    source LowCardinality(String),
    uri String,
    log_type LowCardinality(String),
    account_id LowCardinality(String),
    region LowCardinality(String),
    size UInt64,
    checksum String,
    retention_days UInt32,
    status LowCardinality(String),
    records_read UInt64,
    records_loaded UInt64,
    records_bad UInt64,
    records_expired UInt64,
    -- Items of other kinds found inside the object (a GuardDuty finding in an EventBridge export).
    records_skipped UInt64,
    first_event Nullable(DateTime('UTC')),
    last_event Nullable(DateTime('UTC')),
    message String,
    loaded_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
-- Looked up by object identity (skip what is done); listed by source for health.
ORDER BY object_id;

-- statement-break

-- A record, line or object that could not be loaded: where it was and why. Kept for 90 days of
-- load time, enough to investigate and reload.
CREATE TABLE IF NOT EXISTS ingest_rejects
(
    object_id String,
    chunk UInt32,
    position UInt32,
    reason LowCardinality(String),
    excerpt String CODEC(ZSTD(3)),
    recorded_at DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (object_id, chunk, position)
TTL recorded_at + INTERVAL 90 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

-- An ingest request (CLI, API): what was asked and how many objects discovery found.
CREATE TABLE IF NOT EXISTS ingest_jobs
(
    job_id String,
    requested_by String,
    paths Array(String),
    objects_found UInt64,
    objects_already_loaded UInt64,
    discovered Bool,
    message String,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY job_id;

-- statement-break

-- Small key/value facts about the store itself (applied retention, ...).
CREATE TABLE IF NOT EXISTS store_meta
(
    key String,
    value String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key;
