-- Friendly names from exports the operator provides, and lookup indexes for attribution.

-- Accounts of the organisation (`aws organizations list-accounts`). Replaced by newer exports.
CREATE TABLE IF NOT EXISTS directory_accounts
(
    account_id String,
    name String,
    email String,
    status LowCardinality(String),
    arn String,
    exported_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(exported_at)
ORDER BY account_id;

-- statement-break

-- Identity Center users (`aws identitystore list-users`): events carry only the user id, and
-- member-account sessions only the user name.
CREATE TABLE IF NOT EXISTS directory_identity_center_users
(
    identity_store_id String,
    user_id String,
    user_name String,
    display_name String,
    emails Array(String),
    exported_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(exported_at)
ORDER BY (identity_store_id, user_id);

-- statement-break

-- Walking a chain down (which credentials did this one mint?) and finding a role's or a
-- workload's sessions read issuances by caller key, role and session name: skip indexes keep
-- those reads to the granules that hold the value.
ALTER TABLE cloudtrail_issuances
    ADD INDEX IF NOT EXISTS idx_caller_session_key caller_session_key TYPE bloom_filter GRANULARITY 1;

-- statement-break

ALTER TABLE cloudtrail_issuances
    ADD INDEX IF NOT EXISTS idx_role_arn role_arn TYPE bloom_filter GRANULARITY 1;

-- statement-break

ALTER TABLE cloudtrail_issuances
    ADD INDEX IF NOT EXISTS idx_role_session_name role_session_name TYPE bloom_filter GRANULARITY 1;

-- statement-break

ALTER TABLE cloudtrail_issuances
    ADD INDEX IF NOT EXISTS idx_assumed_role_id assumed_role_id TYPE bloom_filter GRANULARITY 1;
