-- GuardDuty findings: the newest version of each finding, with the fields it is linked by.
--
-- The S3 export repeats a finding every time it is updated (same id, newer updatedAt, grown
-- service.count): ReplacingMergeTree keeps the greatest `version` (read with FINAL), which is
-- updatedAt in milliseconds, doubled, plus 1 when archived: archiving need not move updatedAt, and
-- an archived copy from a GetFindings dump must win over the export's active copy of the same
-- moment in any load order. Versions of one finding must meet in one partition to replace each
-- other, so the partition is by createdAt, which never changes across versions.
CREATE TABLE IF NOT EXISTS guardduty_findings
(
    finding_id String,
    account_id LowCardinality(String),
    region LowCardinality(String),
    partition LowCardinality(String),
    arn String,
    type LowCardinality(String),
    title String,
    description String CODEC(ZSTD(3)),
    severity Float64,
    created_at DateTime64(3, 'UTC'),
    updated_at DateTime64(3, 'UTC'),
    first_seen DateTime('UTC'),
    last_seen DateTime('UTC'),
    count UInt64,
    archived Bool,
    resource_type LowCardinality(String),
    access_key_id String,
    principal_id String,
    user_name String,
    user_type LowCardinality(String),
    instance_id String,
    action_type LowCardinality(String),
    api_name LowCardinality(String),
    api_service LowCardinality(String),
    remote_ips Array(String),
    resources Array(Tuple(kind LowCardinality(String), id String)),
    -- The load that wrote this version (ingest_objects.load_id).
    object_id String,
    raw String CODEC(ZSTD(3)),
    version UInt64,
    -- Sessions, principals and instances ask for their findings by access key and instance id.
    INDEX idx_access_key_id access_key_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_instance_id instance_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_principal_id principal_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
-- A finding is looked up by its id (the SOAR entry point); the id is the replacing key.
ORDER BY finding_id
-- Retention follows the time the finding's activity was last seen (its event time).
TTL last_seen + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;
