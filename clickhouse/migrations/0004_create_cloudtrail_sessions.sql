-- Sessions rollup: one row per temporary credential per day of activity, merged at read time.

CREATE TABLE IF NOT EXISTS cloudtrail_sessions
(
    session_key String,
    day Date,
    access_key_id SimpleAggregateFunction(max, String),
    principal_id SimpleAggregateFunction(max, String),
    identity_type SimpleAggregateFunction(max, String),
    identity_arn SimpleAggregateFunction(max, String),
    account_id SimpleAggregateFunction(max, String),
    role_arn SimpleAggregateFunction(max, String),
    session_name SimpleAggregateFunction(max, String),
    creation_date SimpleAggregateFunction(max, DateTime('UTC')),
    source_identity SimpleAggregateFunction(max, String),
    on_behalf_of_user_id SimpleAggregateFunction(max, String),
    first_seen SimpleAggregateFunction(min, DateTime('UTC')),
    last_seen SimpleAggregateFunction(max, DateTime('UTC')),
    -- Exact-unique states over the record identity (recipient account, eventID): a record that
    -- arrives twice (two trails, a reload) is counted once.
    calls AggregateFunction(uniqExact, UInt64),
    errors AggregateFunction(uniqExact, UInt64),
    apis AggregateFunction(groupUniqArray, String),
    source_ips AggregateFunction(groupUniqArray, String),
    user_agents AggregateFunction(groupUniqArray, String),
    regions AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- Read by credential key (one session) and scanned whole for listings, which are small.
ORDER BY (session_key, day)
TTL day + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_sessions_mv TO cloudtrail_sessions AS
SELECT
    session_key,
    toDate(event_time) AS day,
    max(access_key_id) AS access_key_id,
    max(principal_id) AS principal_id,
    max(toString(identity_type)) AS identity_type,
    max(identity_arn) AS identity_arn,
    max(toString(identity_account_id)) AS account_id,
    max(if(session_issuer_type = 'Role', session_issuer_arn, '')) AS role_arn,
    max(session_name) AS session_name,
    max(ifNull(session_creation_date, toDateTime(0, 'UTC'))) AS creation_date,
    max(source_identity) AS source_identity,
    max(on_behalf_of_user_id) AS on_behalf_of_user_id,
    min(event_time) AS first_seen,
    max(event_time) AS last_seen,
    uniqExactState(cityHash64(recipient_account_id, event_id)) AS calls,
    uniqExactIfState(cityHash64(recipient_account_id, event_id), error_code != '') AS errors,
    groupUniqArrayState(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)) AS apis,
    groupUniqArrayState(source_ip_address) AS source_ips,
    groupUniqArrayState(user_agent) AS user_agents,
    groupUniqArrayState(toString(aws_region)) AS regions
FROM cloudtrail_events
WHERE is_temporary AND session_key != ''
GROUP BY session_key, day;
