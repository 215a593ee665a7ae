-- CloudTrail records: landing pipe, parsing view, typed events, per-object counts, rejects.
--
-- The loader inserts record texts (JSONAsString) into cloudtrail_landing with the setting
-- log_comment = {"object_id": <load id>, "chunk": n, "account": <account from the object path>,
-- "offset": <records before this chunk>, "positions": [<position of each record>] or []},
-- or, for a batch of small objects, {"segments": {"objects": [...], "accounts": [...], "starts": [...]}}.
-- cloudtrail_parsed_mv parses each record once; the views below route rows by `problem`.

CREATE TABLE IF NOT EXISTS cloudtrail_landing
(
    raw String
)
ENGINE = Null;

-- statement-break

CREATE TABLE IF NOT EXISTS cloudtrail_parsed
(
    object_id String,
    chunk UInt32,
    position UInt32,
    problem LowCardinality(String),
    event_time DateTime('UTC'),
    event_id String,
    recipient_account_id LowCardinality(String),
    aws_region LowCardinality(String),
    event_source LowCardinality(String),
    event_name LowCardinality(String),
    event_type LowCardinality(String),
    event_category LowCardinality(String),
    event_version LowCardinality(String),
    read_only Bool,
    management_event Bool,
    error_code LowCardinality(String),
    error_message String,
    source_ip_address String,
    source_ip Nullable(IPv6),
    vpc_endpoint_id String,
    user_agent String,
    identity_type LowCardinality(String),
    principal_id String,
    identity_arn String,
    identity_account_id LowCardinality(String),
    access_key_id String,
    user_name String,
    session_issuer_type LowCardinality(String),
    session_issuer_principal_id String,
    session_issuer_arn String,
    session_issuer_account_id LowCardinality(String),
    session_name String,
    session_creation_date Nullable(DateTime('UTC')),
    mfa_authenticated Bool,
    source_identity String,
    ec2_role_delivery LowCardinality(String),
    invoked_by LowCardinality(String),
    on_behalf_of_user_id String,
    on_behalf_of_identity_store_arn String,
    in_scope_of_issuer_type LowCardinality(String),
    in_scope_of_credentials_issued_to String,
    identity_provider String,
    credential_id String,
    session_credential_from_console Bool,
    shared_event_id String,
    request_id String,
    minted_access_key_id String,
    is_temporary Bool,
    session_key String,
    raw String
)
ENGINE = Null;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_parsed_mv TO cloudtrail_parsed AS
WITH
    JSONExtract(getSetting('log_comment'),
        'Tuple(object_id String, chunk UInt32, account String, offset UInt32, positions Array(UInt32),
               segments Tuple(objects Array(String), accounts Array(String), starts Array(UInt32)))') AS load,
    rowNumberInAllBlocks() AS row_number,
    -- A batch of small objects: segment k holds the rows from starts[k] on.
    arrayCount(start -> start <= row_number, load.segments.starts) AS segment,
    -- One JSONExtract per record: every further JSON function call would parse the record again.
    JSONExtract(raw, 'Tuple(
        eventVersion String, eventTime String, eventSource String, eventName String, awsRegion String,
        sourceIPAddress String, userAgent String, errorCode String, errorMessage String, requestID String,
        eventID String, readOnly Bool, eventType String, managementEvent Bool, eventCategory String,
        recipientAccountId String, sharedEventID String, vpcEndpointId String, sessionCredentialFromConsole String,
        userIdentity Tuple(
            type String, principalId String, arn String, accountId String, accessKeyId String, userName String,
            invokedBy String, identityProvider String, credentialId String,
            sessionContext Tuple(
                sessionIssuer Tuple(type String, principalId String, arn String, accountId String, userName String),
                attributes Tuple(creationDate String, mfaAuthenticated String),
                sourceIdentity String, ec2RoleDelivery String),
            onBehalfOf Tuple(userId String, identityStoreArn String),
            inScopeOf Tuple(issuerType String, credentialsIssuedTo String)),
        responseElements Tuple(credentials Tuple(accessKeyId String)))') AS r,
    r.userIdentity AS u,
    parseDateTimeBestEffortOrNull(r.eventTime, 'UTC') AS parsed_time,
    parseDateTimeBestEffortOrNull(nullIf(u.sessionContext.attributes.creationDate, ''), 'UTC') AS creation,
    splitByChar('/', u.arn) AS arn_parts,
    (startsWith(u.accessKeyId, 'ASIA') OR u.type IN ('AssumedRole', 'FederatedUser')
        OR (u.accessKeyId = '' AND creation IS NOT NULL AND u.principalId != ''))
        AND NOT startsWith(u.accessKeyId, 'AKIA') AS temporary
SELECT
    if(segment > 0, load.segments.objects[segment], load.object_id) AS object_id,
    load.chunk AS chunk,
    -- Where the record is in its object: as the loader says for each record (when it re-serialised
    -- them), else from the start of its batch segment or from the offset of the chunk's first record.
    toUInt32(multiIf(
        notEmpty(load.positions), load.positions[row_number + 1],
        segment > 0, row_number - load.segments.starts[segment],
        load.offset + row_number)) AS position,
    -- isValidJSON runs only when the cheap checks already failed (short-circuit evaluation).
    multiIf(
        (r.eventID != '' OR r.eventName != '') AND parsed_time IS NOT NULL, '',
        NOT isValidJSON(raw), 'not valid JSON',
        r.eventID = '' AND r.eventName = '', 'not a CloudTrail record: no eventID or eventName',
        'no valid eventTime') AS problem,
    ifNull(parsed_time, toDateTime(0, 'UTC')) AS event_time,
    -- Records before eventVersion 1.01 have no eventID: the record's own hash stands in, so the
    -- same record loaded twice is still one record.
    if(r.eventID != '', r.eventID, concat('sha256:', lower(hex(SHA256(raw))))) AS event_id,
    if(r.recipientAccountId != '', r.recipientAccountId,
       if(segment > 0, load.segments.accounts[segment], load.account)) AS recipient_account_id,
    r.awsRegion AS aws_region,
    r.eventSource AS event_source,
    r.eventName AS event_name,
    r.eventType AS event_type,
    r.eventCategory AS event_category,
    r.eventVersion AS event_version,
    r.readOnly AS read_only,
    r.managementEvent AS management_event,
    r.errorCode AS error_code,
    r.errorMessage AS error_message,
    r.sourceIPAddress AS source_ip_address,
    toIPv6OrNull(r.sourceIPAddress) AS source_ip,
    r.vpcEndpointId AS vpc_endpoint_id,
    r.userAgent AS user_agent,
    u.type AS identity_type,
    u.principalId AS principal_id,
    u.arn AS identity_arn,
    u.accountId AS identity_account_id,
    u.accessKeyId AS access_key_id,
    u.userName AS user_name,
    u.sessionContext.sessionIssuer.type AS session_issuer_type,
    u.sessionContext.sessionIssuer.principalId AS session_issuer_principal_id,
    u.sessionContext.sessionIssuer.arn AS session_issuer_arn,
    u.sessionContext.sessionIssuer.accountId AS session_issuer_account_id,
    multiIf(u.type = 'AssumedRole', arrayElement(arn_parts, 3),
            u.type = 'FederatedUser', arrayElement(arn_parts, 2), '') AS session_name,
    creation AS session_creation_date,
    lower(u.sessionContext.attributes.mfaAuthenticated) = 'true' AS mfa_authenticated,
    u.sessionContext.sourceIdentity AS source_identity,
    u.sessionContext.ec2RoleDelivery AS ec2_role_delivery,
    u.invokedBy AS invoked_by,
    u.onBehalfOf.userId AS on_behalf_of_user_id,
    u.onBehalfOf.identityStoreArn AS on_behalf_of_identity_store_arn,
    u.inScopeOf.issuerType AS in_scope_of_issuer_type,
    u.inScopeOf.credentialsIssuedTo AS in_scope_of_credentials_issued_to,
    u.identityProvider AS identity_provider,
    u.credentialId AS credential_id,
    lower(r.sessionCredentialFromConsole) = 'true' AS session_credential_from_console,
    r.sharedEventID AS shared_event_id,
    r.requestID AS request_id,
    r.responseElements.credentials.accessKeyId AS minted_access_key_id,
    temporary AS is_temporary,
    -- A credential is its access key; records without one fall back to principal + creation date.
    multiIf(u.accessKeyId != '', u.accessKeyId,
            creation IS NOT NULL AND u.principalId != '',
            concat(u.principalId, '@', formatDateTime(assumeNotNull(creation), '%Y-%m-%dT%H:%i:%SZ')),
            '') AS session_key,
    raw
FROM cloudtrail_landing;

-- statement-break

CREATE TABLE IF NOT EXISTS cloudtrail_events
(
    event_time DateTime('UTC'),
    event_id String,
    recipient_account_id LowCardinality(String),
    aws_region LowCardinality(String),
    event_source LowCardinality(String),
    event_name LowCardinality(String),
    event_type LowCardinality(String),
    event_category LowCardinality(String),
    event_version LowCardinality(String),
    read_only Bool,
    management_event Bool,
    error_code LowCardinality(String),
    error_message String,
    source_ip_address String,
    source_ip Nullable(IPv6),
    vpc_endpoint_id String,
    user_agent String,
    identity_type LowCardinality(String),
    principal_id String,
    identity_arn String,
    identity_account_id LowCardinality(String),
    access_key_id String,
    user_name String,
    session_issuer_type LowCardinality(String),
    session_issuer_principal_id String,
    session_issuer_arn String,
    session_issuer_account_id LowCardinality(String),
    session_name String,
    session_creation_date Nullable(DateTime('UTC')),
    mfa_authenticated Bool,
    source_identity String,
    ec2_role_delivery LowCardinality(String),
    invoked_by LowCardinality(String),
    on_behalf_of_user_id String,
    on_behalf_of_identity_store_arn String,
    in_scope_of_issuer_type LowCardinality(String),
    in_scope_of_credentials_issued_to String,
    identity_provider String,
    credential_id String,
    session_credential_from_console Bool,
    shared_event_id String,
    request_id String,
    minted_access_key_id String,
    is_temporary Bool,
    session_key String,
    object_id String,
    raw String CODEC(ZSTD(3)),
    INDEX idx_principal principal_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_identity_arn identity_arn TYPE bloom_filter GRANULARITY 4,
    INDEX idx_minted minted_access_key_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_source_ip source_ip_address TYPE bloom_filter GRANULARITY 4,
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 4
)
-- The same record can arrive in two files (organisation and account trail) or twice in one:
-- identical copies share every column of the sort key, so merges keep one; reads use FINAL.
ENGINE = ReplacingMergeTree
-- Monthly partitions: a year-long export touches 13, far below the 100-partition insert limit.
PARTITION BY toYYYYMM(event_time)
-- The hot read is "calls of this credential in time order" (sessions, chains, principals), so the
-- credential leads; recipient account + eventID make a record's identity and end the key.
ORDER BY (session_key, event_time, recipient_account_id, event_id)
-- Retention (ROLETRAIL_RETENTION_DAYS, applied at start-up); whole parts are dropped.
TTL event_time + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_events_mv TO cloudtrail_events AS
SELECT
    event_time, event_id, recipient_account_id, aws_region, event_source, event_name, event_type,
    event_category, event_version, read_only, management_event, error_code, error_message,
    source_ip_address, source_ip, vpc_endpoint_id, user_agent, identity_type, principal_id, identity_arn,
    identity_account_id, access_key_id, user_name, session_issuer_type, session_issuer_principal_id,
    session_issuer_arn, session_issuer_account_id, session_name, session_creation_date, mfa_authenticated,
    source_identity, ec2_role_delivery, invoked_by, on_behalf_of_user_id, on_behalf_of_identity_store_arn,
    in_scope_of_issuer_type, in_scope_of_credentials_issued_to, identity_provider, credential_id,
    session_credential_from_console, shared_event_id, request_id, minted_access_key_id, is_temporary,
    session_key, object_id, raw
FROM cloudtrail_parsed
WHERE problem = '';

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_rejects_mv TO ingest_rejects AS
SELECT
    object_id,
    chunk,
    position,
    problem AS reason,
    substring(raw, 1, 1024) AS excerpt,
    now() AS recorded_at
FROM cloudtrail_parsed
WHERE problem != '';

-- statement-break

-- Records read per object and event day, and how many of them were valid: the loader reconciles
-- read = loaded + bad + expired from this table (expired = valid rows older than the retention).
CREATE TABLE IF NOT EXISTS cloudtrail_load_counts
(
    object_id String,
    day Date,
    records_read SimpleAggregateFunction(sum, UInt64),
    records_valid SimpleAggregateFunction(sum, UInt64),
    first_event SimpleAggregateFunction(min, DateTime('UTC')),
    last_event SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (object_id, day)
SETTINGS non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_load_counts_mv TO cloudtrail_load_counts AS
SELECT
    object_id,
    toDate(event_time) AS day,
    count() AS records_read,
    countIf(problem = '') AS records_valid,
    minIf(event_time, problem = '') AS first_event,
    maxIf(event_time, problem = '') AS last_event
FROM cloudtrail_parsed
GROUP BY object_id, day;
