CREATE TABLE api_tokens
(
    `name` String,
    `scope` LowCardinality(String),
    `accounts` Array(String),
    `secret_sha256` String,
    `created_at` DateTime64(3, 'UTC'),
    `created_by` String,
    `revoked_at` Nullable(DateTime64(3, 'UTC')),
    `revoked_by` String,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name
SETTINGS index_granularity = 8192;

CREATE TABLE cloudtrail_account_days
(
    `account_id` LowCardinality(String),
    `day` Date,
    `calls` AggregateFunction(uniqExact, UInt64),
    `apis` AggregateFunction(groupUniqArray, String),
    `countries` AggregateFunction(groupUniqArray, String),
    `cities` AggregateFunction(groupUniqArray, String),
    `asns` AggregateFunction(groupUniqArray, String),
    `user_agents` AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (account_id, day)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_account_days_mv TO cloudtrail_account_days
(
    `account_id` LowCardinality(String),
    `day` Date,
    `calls` AggregateFunction(uniqExact, UInt64),
    `apis` AggregateFunction(groupUniqArray, String),
    `countries` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `cities` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `asns` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `user_agents` AggregateFunction(groupUniqArrayIf, String, UInt8)
)
AS SELECT
    toString(identity_account_id) AS account_id,
    toDate(event_time) AS day,
    uniqExactState(cityHash64(recipient_account_id, event_id)) AS calls,
    groupUniqArrayState(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)) AS apis,
    groupUniqArrayIfState(toString(source_country), source_country != '') AS countries,
    groupUniqArrayIfState(concat(source_city, ', ', source_country), (source_city != '') AND (source_country != '')) AS cities,
    groupUniqArrayIfState(toString(source_asn), source_asn != 0) AS asns,
    groupUniqArrayIfState(user_agent, user_agent != '') AS user_agents
FROM cloudtrail_events
WHERE identity_account_id != ''
GROUP BY
    account_id,
    day;

CREATE TABLE cloudtrail_events
(
    `event_time` DateTime('UTC'),
    `event_id` String,
    `recipient_account_id` LowCardinality(String),
    `aws_region` LowCardinality(String),
    `event_source` LowCardinality(String),
    `event_name` LowCardinality(String),
    `event_type` LowCardinality(String),
    `event_category` LowCardinality(String),
    `event_version` LowCardinality(String),
    `read_only` Bool,
    `management_event` Bool,
    `error_code` LowCardinality(String),
    `error_message` String,
    `source_ip_address` String,
    `source_ip` Nullable(IPv6),
    `vpc_endpoint_id` String,
    `user_agent` String,
    `identity_type` LowCardinality(String),
    `principal_id` String,
    `identity_arn` String,
    `identity_account_id` LowCardinality(String),
    `access_key_id` String,
    `user_name` String,
    `session_issuer_type` LowCardinality(String),
    `session_issuer_principal_id` String,
    `session_issuer_arn` String,
    `session_issuer_account_id` LowCardinality(String),
    `session_name` String,
    `session_creation_date` Nullable(DateTime('UTC')),
    `mfa_authenticated` Bool,
    `source_identity` String,
    `ec2_role_delivery` LowCardinality(String),
    `invoked_by` LowCardinality(String),
    `on_behalf_of_user_id` String,
    `on_behalf_of_identity_store_arn` String,
    `in_scope_of_issuer_type` LowCardinality(String),
    `in_scope_of_credentials_issued_to` String,
    `identity_provider` String,
    `credential_id` String,
    `session_credential_from_console` Bool,
    `shared_event_id` String,
    `request_id` String,
    `minted_access_key_id` String,
    `is_temporary` Bool,
    `session_key` String,
    `object_id` String,
    `raw` String CODEC(ZSTD(3)),
    `source_location_kind` LowCardinality(String) MATERIALIZED multiIf(vpc_endpoint_id != '', 'vpc_endpoint', source_ip_address = '', '', source_ip IS NULL, 'aws_service', arrayExists(r -> isIPAddressInRange(IPv6NumToString(ifNull(source_ip, toIPv6('::'))), r), ['::ffff:10.0.0.0/104', '::ffff:172.16.0.0/108', '::ffff:192.168.0.0/112', '::ffff:100.64.0.0/106', '::ffff:127.0.0.0/104', '::ffff:169.254.0.0/112', '::ffff:0.0.0.0/104', 'fc00::/7', 'fe80::/10', '::1/128']), 'private', 'public'),
    `source_country` LowCardinality(String) MATERIALIZED if(source_location_kind = 'public', joinGet('geoip_addresses', 'country', source_ip_address), ''),
    `source_city` String MATERIALIZED if(source_location_kind = 'public', joinGet('geoip_addresses', 'city', source_ip_address), ''),
    `source_latitude` Float32 MATERIALIZED if(source_location_kind = 'public', ifNull(joinGetOrNull('geoip_addresses', 'latitude', source_ip_address), nan), nan),
    `source_longitude` Float32 MATERIALIZED if(source_location_kind = 'public', ifNull(joinGetOrNull('geoip_addresses', 'longitude', source_ip_address), nan), nan),
    `source_asn` UInt32 MATERIALIZED if(source_location_kind = 'public', joinGet('geoip_addresses', 'asn', source_ip_address), 0),
    `source_as_org` LowCardinality(String) MATERIALIZED if(source_location_kind = 'public', joinGet('geoip_addresses', 'as_org', source_ip_address), ''),
    INDEX idx_principal principal_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_identity_arn identity_arn TYPE bloom_filter GRANULARITY 4,
    INDEX idx_minted minted_access_key_id TYPE bloom_filter GRANULARITY 4,
    INDEX idx_source_ip source_ip_address TYPE bloom_filter GRANULARITY 4,
    INDEX idx_event_id event_id TYPE bloom_filter GRANULARITY 4
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(event_time)
ORDER BY (session_key, event_time, recipient_account_id, event_id)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_events_mv TO cloudtrail_events
(
    `event_time` DateTime('UTC'),
    `event_id` String,
    `recipient_account_id` LowCardinality(String),
    `aws_region` LowCardinality(String),
    `event_source` LowCardinality(String),
    `event_name` LowCardinality(String),
    `event_type` LowCardinality(String),
    `event_category` LowCardinality(String),
    `event_version` LowCardinality(String),
    `read_only` Bool,
    `management_event` Bool,
    `error_code` LowCardinality(String),
    `error_message` String,
    `source_ip_address` String,
    `source_ip` Nullable(IPv6),
    `vpc_endpoint_id` String,
    `user_agent` String,
    `identity_type` LowCardinality(String),
    `principal_id` String,
    `identity_arn` String,
    `identity_account_id` LowCardinality(String),
    `access_key_id` String,
    `user_name` String,
    `session_issuer_type` LowCardinality(String),
    `session_issuer_principal_id` String,
    `session_issuer_arn` String,
    `session_issuer_account_id` LowCardinality(String),
    `session_name` String,
    `session_creation_date` Nullable(DateTime('UTC')),
    `mfa_authenticated` Bool,
    `source_identity` String,
    `ec2_role_delivery` LowCardinality(String),
    `invoked_by` LowCardinality(String),
    `on_behalf_of_user_id` String,
    `on_behalf_of_identity_store_arn` String,
    `in_scope_of_issuer_type` LowCardinality(String),
    `in_scope_of_credentials_issued_to` String,
    `identity_provider` String,
    `credential_id` String,
    `session_credential_from_console` Bool,
    `shared_event_id` String,
    `request_id` String,
    `minted_access_key_id` String,
    `is_temporary` Bool,
    `session_key` String,
    `object_id` String,
    `raw` String
)
AS SELECT
    event_time,
    event_id,
    recipient_account_id,
    aws_region,
    event_source,
    event_name,
    event_type,
    event_category,
    event_version,
    read_only,
    management_event,
    error_code,
    error_message,
    source_ip_address,
    source_ip,
    vpc_endpoint_id,
    user_agent,
    identity_type,
    principal_id,
    identity_arn,
    identity_account_id,
    access_key_id,
    user_name,
    session_issuer_type,
    session_issuer_principal_id,
    session_issuer_arn,
    session_issuer_account_id,
    session_name,
    session_creation_date,
    mfa_authenticated,
    source_identity,
    ec2_role_delivery,
    invoked_by,
    on_behalf_of_user_id,
    on_behalf_of_identity_store_arn,
    in_scope_of_issuer_type,
    in_scope_of_credentials_issued_to,
    identity_provider,
    credential_id,
    session_credential_from_console,
    shared_event_id,
    request_id,
    minted_access_key_id,
    is_temporary,
    session_key,
    object_id,
    raw
FROM cloudtrail_parsed
WHERE problem = '';

CREATE TABLE cloudtrail_issuances
(
    `access_key_id` String,
    `issued_at` DateTime('UTC'),
    `expires_at` Nullable(DateTime('UTC')),
    `credential_kind` LowCardinality(String),
    `event_source` LowCardinality(String),
    `role_arn` String,
    `role_session_name` String,
    `assumed_role_id` String,
    `assumed_role_arn` String,
    `federated_user_arn` String,
    `source_identity` String,
    `caller_identity_type` LowCardinality(String),
    `caller_principal_id` String,
    `caller_arn` String,
    `caller_account_id` LowCardinality(String),
    `caller_access_key_id` String,
    `caller_session_key` String,
    `caller_user_name` String,
    `caller_invoked_by` LowCardinality(String),
    `caller_session_issuer_arn` String,
    `saml_provider_arn` String,
    `saml_subject` String,
    `saml_subject_type` LowCardinality(String),
    `saml_issuer` String,
    `saml_audience` String,
    `saml_name_qualifier` String,
    `web_identity_provider` String,
    `web_identity_subject` String,
    `web_identity_audience` String,
    `cognito_identity_id` String,
    `target_principal` String,
    `session_tags` Map(String, String),
    `transitive_tag_keys` Array(String),
    `incoming_transitive_tags` Map(String, String),
    `recipient_account_id` LowCardinality(String),
    `aws_region` LowCardinality(String),
    `event_id` String,
    `shared_event_id` String,
    `request_id` String,
    `source_ip_address` String,
    `user_agent` String,
    `copy_rank` UInt8,
    INDEX idx_caller_session_key caller_session_key TYPE bloom_filter GRANULARITY 1,
    INDEX idx_role_arn role_arn TYPE bloom_filter GRANULARITY 1,
    INDEX idx_role_session_name role_session_name TYPE bloom_filter GRANULARITY 1,
    INDEX idx_assumed_role_id assumed_role_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(copy_rank)
PARTITION BY toYYYYMM(issued_at)
ORDER BY access_key_id
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_issuances_mv TO cloudtrail_issuances
(
    `access_key_id` String,
    `issued_at` DateTime('UTC'),
    `expires_at` Nullable(DateTime('UTC')),
    `credential_kind` LowCardinality(String),
    `event_source` LowCardinality(String),
    `role_arn` String,
    `role_session_name` String,
    `assumed_role_id` String,
    `assumed_role_arn` String,
    `federated_user_arn` String,
    `source_identity` String,
    `caller_identity_type` LowCardinality(String),
    `caller_principal_id` String,
    `caller_arn` String,
    `caller_account_id` LowCardinality(String),
    `caller_access_key_id` String,
    `caller_session_key` String,
    `caller_user_name` String,
    `caller_invoked_by` LowCardinality(String),
    `caller_session_issuer_arn` String,
    `saml_provider_arn` String,
    `saml_subject` String,
    `saml_subject_type` String,
    `saml_issuer` String,
    `saml_audience` String,
    `saml_name_qualifier` String,
    `web_identity_provider` String,
    `web_identity_subject` String,
    `web_identity_audience` String,
    `cognito_identity_id` String,
    `target_principal` String,
    `session_tags` Map(String, String),
    `transitive_tag_keys` Array(String),
    `incoming_transitive_tags` Map(String, String),
    `recipient_account_id` LowCardinality(String),
    `aws_region` LowCardinality(String),
    `event_id` String,
    `shared_event_id` String,
    `request_id` String,
    `source_ip_address` String,
    `user_agent` String,
    `copy_rank` LowCardinality(UInt8)
)
AS WITH
    JSONExtract(raw, 'Tuple(\n        requestParameters Tuple(\n            roleArn String, roleSessionName String, principalArn String, providerId String, name String,\n            sourceIdentity String, targetPrincipal String, customRoleArn String,\n            tags Array(Tuple(key String, value String)), principalTags Map(String, String),\n            transitiveTagKeys Array(String), incomingTransitiveTags Map(String, String)),\n        responseElements Tuple(\n            credentials Tuple(expiration String),\n            assumedRoleUser Tuple(assumedRoleId String, arn String),\n            federatedUser Tuple(federatedUserId String, arn String),\n            sourceIdentity String, subject String, subjectType String, issuer String, audience String,\n            nameQualifier String, subjectFromWebIdentityToken String, provider String, identityId String))') AS x,
    x.requestParameters AS q,
    x.responseElements AS a
SELECT
    minted_access_key_id AS access_key_id,
    event_time AS issued_at,
    parseDateTimeBestEffortOrNull(replaceRegexpOne(a.credentials.expiration, '(\\d{4}),', '\\1'), 'UTC') AS expires_at,
    event_name AS credential_kind,
    event_source,
    if(q.roleArn != '', q.roleArn, q.customRoleArn) AS role_arn,
    if(q.roleSessionName != '', q.roleSessionName, q.name) AS role_session_name,
    a.assumedRoleUser.assumedRoleId AS assumed_role_id,
    a.assumedRoleUser.arn AS assumed_role_arn,
    a.federatedUser.arn AS federated_user_arn,
    if(a.sourceIdentity != '', a.sourceIdentity, q.sourceIdentity) AS source_identity,
    identity_type AS caller_identity_type,
    principal_id AS caller_principal_id,
    identity_arn AS caller_arn,
    identity_account_id AS caller_account_id,
    caller_key AS caller_access_key_id,
    session_key AS caller_session_key,
    user_name AS caller_user_name,
    invoked_by AS caller_invoked_by,
    session_issuer_arn AS caller_session_issuer_arn,
    if(event_name = 'AssumeRoleWithSAML', q.principalArn, '') AS saml_provider_arn,
    a.subject AS saml_subject,
    a.subjectType AS saml_subject_type,
    a.issuer AS saml_issuer,
    if(event_name = 'AssumeRoleWithSAML', a.audience, '') AS saml_audience,
    a.nameQualifier AS saml_name_qualifier,
    if(a.provider != '', a.provider, if(q.providerId != '', q.providerId, identity_provider)) AS web_identity_provider,
    a.subjectFromWebIdentityToken AS web_identity_subject,
    if(event_name = 'AssumeRoleWithWebIdentity', a.audience, '') AS web_identity_audience,
    a.identityId AS cognito_identity_id,
    q.targetPrincipal AS target_principal,
    mapUpdate(CAST((arrayMap(t -> (t.1), q.tags), arrayMap(t -> (t.2), q.tags)), 'Map(String, String)'), q.principalTags) AS session_tags,
    q.transitiveTagKeys AS transitive_tag_keys,
    q.incomingTransitiveTags AS incoming_transitive_tags,
    recipient_account_id,
    aws_region,
    event_id,
    shared_event_id,
    request_id,
    source_ip_address,
    user_agent,
    toUInt8(identity_type NOT IN ('AWSAccount', 'AWSService')) AS copy_rank
FROM
(
    SELECT
        *,
        access_key_id AS caller_key
    FROM cloudtrail_events
)
WHERE (minted_access_key_id != '') AND (error_code = '');

CREATE TABLE cloudtrail_landing
(
    `raw` String
)
ENGINE = `Null`;

CREATE TABLE cloudtrail_load_counts
(
    `object_id` String,
    `day` Date,
    `records_read` SimpleAggregateFunction(sum, UInt64),
    `records_valid` SimpleAggregateFunction(sum, UInt64),
    `first_event` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_event` SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (object_id, day)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_load_counts_mv TO cloudtrail_load_counts
(
    `object_id` String,
    `day` Date,
    `records_read` UInt64,
    `records_valid` UInt64,
    `first_event` DateTime('UTC'),
    `last_event` DateTime('UTC')
)
AS SELECT
    object_id,
    toDate(event_time) AS day,
    count() AS records_read,
    countIf(problem = '') AS records_valid,
    minIf(event_time, problem = '') AS first_event,
    maxIf(event_time, problem = '') AS last_event
FROM cloudtrail_parsed
GROUP BY
    object_id,
    day;

CREATE TABLE cloudtrail_parsed
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `problem` LowCardinality(String),
    `event_time` DateTime('UTC'),
    `event_id` String,
    `recipient_account_id` LowCardinality(String),
    `aws_region` LowCardinality(String),
    `event_source` LowCardinality(String),
    `event_name` LowCardinality(String),
    `event_type` LowCardinality(String),
    `event_category` LowCardinality(String),
    `event_version` LowCardinality(String),
    `read_only` Bool,
    `management_event` Bool,
    `error_code` LowCardinality(String),
    `error_message` String,
    `source_ip_address` String,
    `source_ip` Nullable(IPv6),
    `vpc_endpoint_id` String,
    `user_agent` String,
    `identity_type` LowCardinality(String),
    `principal_id` String,
    `identity_arn` String,
    `identity_account_id` LowCardinality(String),
    `access_key_id` String,
    `user_name` String,
    `session_issuer_type` LowCardinality(String),
    `session_issuer_principal_id` String,
    `session_issuer_arn` String,
    `session_issuer_account_id` LowCardinality(String),
    `session_name` String,
    `session_creation_date` Nullable(DateTime('UTC')),
    `mfa_authenticated` Bool,
    `source_identity` String,
    `ec2_role_delivery` LowCardinality(String),
    `invoked_by` LowCardinality(String),
    `on_behalf_of_user_id` String,
    `on_behalf_of_identity_store_arn` String,
    `in_scope_of_issuer_type` LowCardinality(String),
    `in_scope_of_credentials_issued_to` String,
    `identity_provider` String,
    `credential_id` String,
    `session_credential_from_console` Bool,
    `shared_event_id` String,
    `request_id` String,
    `minted_access_key_id` String,
    `is_temporary` Bool,
    `session_key` String,
    `raw` String
)
ENGINE = `Null`;

CREATE MATERIALIZED VIEW cloudtrail_parsed_mv TO cloudtrail_parsed
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `problem` String,
    `event_time` DateTime('UTC'),
    `event_id` String,
    `recipient_account_id` String,
    `aws_region` String,
    `event_source` String,
    `event_name` String,
    `event_type` String,
    `event_category` String,
    `event_version` String,
    `read_only` Bool,
    `management_event` Bool,
    `error_code` String,
    `error_message` String,
    `source_ip_address` String,
    `source_ip` Nullable(IPv6),
    `vpc_endpoint_id` String,
    `user_agent` String,
    `identity_type` String,
    `principal_id` String,
    `identity_arn` String,
    `identity_account_id` String,
    `access_key_id` String,
    `user_name` String,
    `session_issuer_type` String,
    `session_issuer_principal_id` String,
    `session_issuer_arn` String,
    `session_issuer_account_id` String,
    `session_name` String,
    `session_creation_date` Nullable(DateTime('UTC')),
    `mfa_authenticated` UInt8,
    `source_identity` String,
    `ec2_role_delivery` String,
    `invoked_by` String,
    `on_behalf_of_user_id` String,
    `on_behalf_of_identity_store_arn` String,
    `in_scope_of_issuer_type` String,
    `in_scope_of_credentials_issued_to` String,
    `identity_provider` String,
    `credential_id` String,
    `session_credential_from_console` UInt8,
    `shared_event_id` String,
    `request_id` String,
    `minted_access_key_id` String,
    `is_temporary` UInt8,
    `session_key` String,
    `raw` String
)
AS WITH
    JSONExtract(getSetting('log_comment'), 'Tuple(object_id String, chunk UInt32, account String, offset UInt32, positions Array(UInt32),\n               segments Tuple(objects Array(String), accounts Array(String), starts Array(UInt32)))') AS load,
    rowNumberInAllBlocks() AS row_number,
    arrayCount(start -> (start <= row_number), load.segments.starts) AS segment,
    JSONExtract(raw, 'Tuple(\n        eventVersion String, eventTime String, eventSource String, eventName String, awsRegion String,\n        sourceIPAddress String, userAgent String, errorCode String, errorMessage String, requestID String,\n        eventID String, readOnly Bool, eventType String, managementEvent Bool, eventCategory String,\n        recipientAccountId String, sharedEventID String, vpcEndpointId String, sessionCredentialFromConsole String,\n        userIdentity Tuple(\n            type String, principalId String, arn String, accountId String, accessKeyId String, userName String,\n            invokedBy String, identityProvider String, credentialId String,\n            sessionContext Tuple(\n                sessionIssuer Tuple(type String, principalId String, arn String, accountId String, userName String),\n                attributes Tuple(creationDate String, mfaAuthenticated String),\n                sourceIdentity String, ec2RoleDelivery String),\n            onBehalfOf Tuple(userId String, identityStoreArn String),\n            inScopeOf Tuple(issuerType String, credentialsIssuedTo String)),\n        responseElements Tuple(credentials Tuple(accessKeyId String)))') AS r,
    r.userIdentity AS u,
    parseDateTimeBestEffortOrNull(r.eventTime, 'UTC') AS parsed_time,
    parseDateTimeBestEffortOrNull(nullIf(u.sessionContext.attributes.creationDate, ''), 'UTC') AS creation,
    splitByChar('/', u.arn) AS arn_parts,
    (startsWith(u.accessKeyId, 'ASIA') OR (u.type IN ('AssumedRole', 'FederatedUser')) OR ((u.accessKeyId = '') AND (creation IS NOT NULL) AND (u.principalId != ''))) AND (NOT startsWith(u.accessKeyId, 'AKIA')) AS temporary
SELECT
    if(segment > 0, load.segments.objects[segment], load.object_id) AS object_id,
    load.chunk AS chunk,
    toUInt32(multiIf(notEmpty(load.positions), load.positions[row_number + 1], segment > 0, row_number - (load.segments.starts[segment]), load.offset + row_number)) AS position,
    multiIf(((r.eventID != '') OR (r.eventName != '')) AND (parsed_time IS NOT NULL), '', NOT isValidJSON(raw), 'not valid JSON', (r.eventID = '') AND (r.eventName = ''), 'not a CloudTrail record: no eventID or eventName', 'no valid eventTime') AS problem,
    ifNull(parsed_time, toDateTime(0, 'UTC')) AS event_time,
    if(r.eventID != '', r.eventID, concat('sha256:', lower(hex(SHA256(raw))))) AS event_id,
    if(r.recipientAccountId != '', r.recipientAccountId, if(segment > 0, load.segments.accounts[segment], load.account)) AS recipient_account_id,
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
    multiIf(u.type = 'AssumedRole', arrayElement(arn_parts, 3), u.type = 'FederatedUser', arrayElement(arn_parts, 2), '') AS session_name,
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
    multiIf(u.accessKeyId != '', u.accessKeyId, (creation IS NOT NULL) AND (u.principalId != ''), concat(u.principalId, '@', formatDateTime(assumeNotNull(creation), '%Y-%m-%dT%H:%i:%SZ')), '') AS session_key,
    raw
FROM cloudtrail_landing;

CREATE MATERIALIZED VIEW cloudtrail_rejects_mv TO ingest_rejects
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `reason` LowCardinality(String),
    `excerpt` String,
    `recorded_at` DateTime
)
AS SELECT
    object_id,
    chunk,
    position,
    problem AS reason,
    substring(raw, 1, 1024) AS excerpt,
    now() AS recorded_at
FROM cloudtrail_parsed
WHERE problem != '';

CREATE TABLE cloudtrail_role_days
(
    `account_id` LowCardinality(String),
    `role_arn` String,
    `day` Date,
    `session_key` String,
    `first_seen` SimpleAggregateFunction(min, DateTime('UTC')),
    `calls` AggregateFunction(uniqExact, UInt64),
    `apis` AggregateFunction(groupUniqArray, String),
    `countries` AggregateFunction(groupUniqArray, String),
    `cities` AggregateFunction(groupUniqArray, String),
    `asns` AggregateFunction(groupUniqArray, String),
    `user_agents` AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (account_id, role_arn, day, session_key)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_role_days_mv TO cloudtrail_role_days
(
    `account_id` LowCardinality(String),
    `role_arn` String,
    `day` Date,
    `session_key` String,
    `first_seen` DateTime('UTC'),
    `calls` AggregateFunction(uniqExact, UInt64),
    `apis` AggregateFunction(groupUniqArray, String),
    `countries` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `cities` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `asns` AggregateFunction(groupUniqArrayIf, String, UInt8),
    `user_agents` AggregateFunction(groupUniqArrayIf, String, UInt8)
)
AS SELECT
    toString(session_issuer_account_id) AS account_id,
    session_issuer_arn AS role_arn,
    toDate(event_time) AS day,
    session_key,
    min(event_time) AS first_seen,
    uniqExactState(cityHash64(recipient_account_id, event_id)) AS calls,
    groupUniqArrayState(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)) AS apis,
    groupUniqArrayIfState(toString(source_country), source_country != '') AS countries,
    groupUniqArrayIfState(concat(source_city, ', ', source_country), (source_city != '') AND (source_country != '')) AS cities,
    groupUniqArrayIfState(toString(source_asn), source_asn != 0) AS asns,
    groupUniqArrayIfState(user_agent, user_agent != '') AS user_agents
FROM cloudtrail_events
WHERE is_temporary AND (session_key != '') AND (session_issuer_type = 'Role') AND (session_issuer_arn != '')
GROUP BY
    account_id,
    role_arn,
    day,
    session_key;

CREATE TABLE cloudtrail_sessions
(
    `session_key` String,
    `day` Date,
    `access_key_id` SimpleAggregateFunction(max, String),
    `principal_id` SimpleAggregateFunction(max, String),
    `identity_type` SimpleAggregateFunction(max, String),
    `identity_arn` SimpleAggregateFunction(max, String),
    `account_id` SimpleAggregateFunction(max, String),
    `role_arn` SimpleAggregateFunction(max, String),
    `session_name` SimpleAggregateFunction(max, String),
    `creation_date` SimpleAggregateFunction(max, DateTime('UTC')),
    `source_identity` SimpleAggregateFunction(max, String),
    `on_behalf_of_user_id` SimpleAggregateFunction(max, String),
    `first_seen` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime('UTC')),
    `calls` AggregateFunction(uniqExact, UInt64),
    `errors` AggregateFunction(uniqExact, UInt64),
    `apis` AggregateFunction(groupUniqArray, String),
    `source_ips` AggregateFunction(groupUniqArray, String),
    `user_agents` AggregateFunction(groupUniqArray, String),
    `regions` AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
ORDER BY (session_key, day)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW cloudtrail_sessions_mv TO cloudtrail_sessions
(
    `session_key` String,
    `day` Date,
    `access_key_id` String,
    `principal_id` String,
    `identity_type` String,
    `identity_arn` String,
    `account_id` String,
    `role_arn` String,
    `session_name` String,
    `creation_date` DateTime('UTC'),
    `source_identity` String,
    `on_behalf_of_user_id` String,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `calls` AggregateFunction(uniqExact, UInt64),
    `errors` AggregateFunction(uniqExactIf, UInt64, UInt8),
    `apis` AggregateFunction(groupUniqArray, String),
    `source_ips` AggregateFunction(groupUniqArray, String),
    `user_agents` AggregateFunction(groupUniqArray, String),
    `regions` AggregateFunction(groupUniqArray, String)
)
AS SELECT
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
WHERE is_temporary AND (session_key != '')
GROUP BY
    session_key,
    day;

CREATE TABLE directory_accounts
(
    `account_id` String,
    `name` String,
    `email` String,
    `status` LowCardinality(String),
    `arn` String,
    `exported_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(exported_at)
ORDER BY account_id
SETTINGS index_granularity = 8192;

CREATE TABLE directory_identity_center_users
(
    `identity_store_id` String,
    `user_id` String,
    `user_name` String,
    `display_name` String,
    `emails` Array(String),
    `exported_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(exported_at)
ORDER BY (identity_store_id, user_id)
SETTINGS index_granularity = 8192;

CREATE TABLE flowlog_interface_hourly
(
    `interface_id` String,
    `hour` DateTime('UTC'),
    `flow_log_id` LowCardinality(String),
    `instance_id` SimpleAggregateFunction(max, String),
    `account_id` SimpleAggregateFunction(max, String),
    `vpc_id` SimpleAggregateFunction(max, String),
    `flows` SimpleAggregateFunction(sum, UInt64),
    `accepted` SimpleAggregateFunction(sum, UInt64),
    `rejected` SimpleAggregateFunction(sum, UInt64),
    `packets_in` SimpleAggregateFunction(sum, UInt64),
    `packets_out` SimpleAggregateFunction(sum, UInt64),
    `bytes_in` SimpleAggregateFunction(sum, UInt64),
    `bytes_out` SimpleAggregateFunction(sum, UInt64),
    `nodata` SimpleAggregateFunction(sum, UInt64),
    `skipdata` SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (interface_id, hour, flow_log_id)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW flowlog_interface_hourly_mv TO flowlog_interface_hourly
(
    `interface_id` String,
    `hour` DateTime('UTC'),
    `flow_log_id` LowCardinality(String),
    `instance_id` String,
    `account_id` String,
    `vpc_id` String,
    `flows` UInt64,
    `accepted` UInt64,
    `rejected` UInt64,
    `packets_in` UInt64,
    `packets_out` UInt64,
    `bytes_in` UInt64,
    `bytes_out` UInt64,
    `nodata` UInt64,
    `skipdata` UInt64
)
AS SELECT
    interface_id,
    toStartOfHour(start_time) AS hour,
    flow_log_id,
    max(instance_id) AS instance_id,
    max(toString(account_id)) AS account_id,
    max(toString(vpc_id)) AS vpc_id,
    countIf(log_status = 'OK') AS flows,
    countIf((log_status = 'OK') AND (action = 'ACCEPT')) AS accepted,
    countIf((log_status = 'OK') AND (action = 'REJECT')) AS rejected,
    sumIf(packets, direction = 'ingress') AS packets_in,
    sumIf(packets, direction = 'egress') AS packets_out,
    sumIf(bytes, direction = 'ingress') AS bytes_in,
    sumIf(bytes, direction = 'egress') AS bytes_out,
    countIf(log_status = 'NODATA') AS nodata,
    countIf(log_status = 'SKIPDATA') AS skipdata
FROM flowlog_parsed
WHERE problem = ''
GROUP BY
    interface_id,
    hour,
    flow_log_id;

CREATE TABLE flowlog_landing
(
    `line` String
)
ENGINE = `Null`;

CREATE TABLE flowlog_load_counts
(
    `object_id` String,
    `day` Date,
    `records_read` SimpleAggregateFunction(sum, UInt64),
    `records_valid` SimpleAggregateFunction(sum, UInt64),
    `first_event` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_event` SimpleAggregateFunction(max, DateTime('UTC'))
)
ENGINE = AggregatingMergeTree
ORDER BY (object_id, day)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW flowlog_load_counts_mv TO flowlog_load_counts
(
    `object_id` String,
    `day` Date,
    `records_read` UInt64,
    `records_valid` UInt64,
    `first_event` DateTime('UTC'),
    `last_event` DateTime('UTC')
)
AS SELECT
    object_id,
    toDate(start_time) AS day,
    count() AS records_read,
    countIf(problem = '') AS records_valid,
    minIf(start_time, problem = '') AS first_event,
    maxIf(start_time, problem = '') AS last_event
FROM flowlog_parsed
WHERE object_id != ''
GROUP BY
    object_id,
    day;

CREATE TABLE flowlog_parsed
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `problem` LowCardinality(String),
    `record_id` UInt64,
    `flow_log_id` LowCardinality(String),
    `account_id` LowCardinality(String),
    `interface_id` String,
    `instance_id` String,
    `vpc_id` LowCardinality(String),
    `region` LowCardinality(String),
    `protocol` Nullable(UInt8),
    `packets` UInt64,
    `bytes` UInt64,
    `start_time` DateTime('UTC'),
    `end_time` DateTime('UTC'),
    `action` LowCardinality(String),
    `log_status` LowCardinality(String),
    `flow_direction` LowCardinality(String),
    `direction` LowCardinality(String),
    `local_address` String,
    `remote_address` String,
    `local_port` UInt16,
    `remote_port` UInt16,
    `format` LowCardinality(String),
    `line` String
)
ENGINE = `Null`;

CREATE MATERIALIZED VIEW flowlog_parsed_mv TO flowlog_parsed
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `problem` String,
    `record_id` UInt64,
    `flow_log_id` String,
    `account_id` String,
    `interface_id` String,
    `instance_id` String,
    `vpc_id` String,
    `region` String,
    `protocol` Nullable(UInt8),
    `packets` UInt64,
    `bytes` UInt64,
    `start_time` DateTime('UTC'),
    `end_time` DateTime('UTC'),
    `action` String,
    `log_status` String,
    `flow_direction` String,
    `direction` String,
    `local_address` String,
    `remote_address` String,
    `local_port` UInt16,
    `remote_port` UInt16,
    `format` String,
    `line` String
)
AS SELECT
    object_id,
    chunk,
    position,
    multiIf(fields != width, concat('expected ', toString(width), ' fields (header), found ', toString(fields)), (s_version != '') AND isNull(toUInt8OrNull(s_version)), 'bad version', (s_interface = '') AND (s_status = ''), 'no interface-id', NOT ((s_srcaddr = '') OR (ip_src != 0) OR (s_srcaddr = '0.0.0.0') OR isIPv6String(s_srcaddr)), 'bad srcaddr', NOT ((s_dstaddr = '') OR (ip_dst != 0) OR (s_dstaddr = '0.0.0.0') OR isIPv6String(s_dstaddr)), 'bad dstaddr', (s_srcport != '') AND isNull(n_srcport), 'bad srcport', (s_dstport != '') AND isNull(n_dstport), 'bad dstport', (s_protocol != '') AND isNull(n_protocol), 'bad protocol', (s_packets != '') AND isNull(n_packets), 'bad packets', (s_bytes != '') AND isNull(n_bytes), 'bad bytes', isNull(t_start) OR (t_start >= 4294967295), 'no valid start time', (s_end != '') AND isNull(n_end), 'bad end time', (s_action NOT IN ('', 'ACCEPT', 'REJECT')), 'bad action', (s_status NOT IN ('', 'OK', 'NODATA', 'SKIPDATA')), 'bad log-status', (s_tcp_flags != '') AND isNull(toUInt8OrNull(s_tcp_flags)), 'bad tcp-flags', (s_traffic_path != '') AND isNull(toUInt8OrNull(s_traffic_path)), 'bad traffic-path', '') AS problem,
    cityHash64(s_interface, s_srcaddr, s_dstaddr, s_srcport, s_dstport, s_protocol, s_packets, s_bytes, ifNull(t_start, 0), ifNull(t_end, 0), s_action, s_status) AS record_id,
    flow_log_id,
    if((s_account IN ('', 'unknown')), file_account, s_account) AS account_id,
    s_interface AS interface_id,
    instance_id,
    vpc_id,
    if(s_region = '', file_region, s_region) AS region,
    n_protocol AS protocol,
    ifNull(n_packets, 0) AS packets,
    ifNull(n_bytes, 0) AS bytes,
    toDateTime(least(ifNull(t_start, 0), 4294967295), 'UTC') AS start_time,
    toDateTime(least(ifNull(t_end, 0), 4294967295), 'UTC') AS end_time,
    s_action AS action,
    if(s_status = '', 'OK', s_status) AS log_status,
    s_direction AS flow_direction,
    transform(dir, [1, 2], ['egress', 'ingress'], '') AS direction,
    multiIf(dir = 1, s_srcaddr, dir = 2, s_dstaddr, '') AS local_address,
    multiIf(dir = 1, s_dstaddr, dir = 2, s_srcaddr, '') AS remote_address,
    if((l_port > r_port) AND (l_port >= 1024), 0, l_port) AS local_port,
    if((r_port > l_port) AND (r_port >= 1024), 0, r_port) AS remote_port,
    format,
    line
FROM
(
    SELECT
        *,
        multiIf(dir = 1, ifNull(n_srcport, 0), dir = 2, ifNull(n_dstport, 0), 0) AS l_port,
        multiIf(dir = 1, ifNull(n_dstport, 0), dir = 2, ifNull(n_srcport, 0), 0) AS r_port
    FROM
    (
        SELECT
            *,
            toUInt16OrNull(s_srcport) AS n_srcport,
            toUInt16OrNull(s_dstport) AS n_dstport,
            toUInt8OrNull(s_protocol) AS n_protocol,
            toUInt64OrNull(s_packets) AS n_packets,
            toUInt64OrNull(s_bytes) AS n_bytes,
            toUInt64OrNull(s_end) AS n_end,
            if((s_start = '') AND (fallback_time > 0), toUInt64(fallback_time), toUInt64OrNull(s_start)) AS t_start,
            ifNull(n_end, t_start) AS t_end,
            toUInt32(toIPv4OrZero(s_srcaddr)) AS ip_src,
            toUInt32(toIPv4OrZero(s_dstaddr)) AS ip_dst,
            (bitShiftRight(ip_src, 24) = 10) OR (bitShiftRight(ip_src, 20) = 2753) OR (bitShiftRight(ip_src, 16) = 49320) OR (bitShiftRight(ip_src, 22) = 401) OR (bitShiftRight(ip_src, 16) = 43518) OR ((ip_src = 0) AND match(s_srcaddr, '^(?i)(f[cd]|fe[89ab])[0-9a-f]*:')) AS src_private,
            (bitShiftRight(ip_dst, 24) = 10) OR (bitShiftRight(ip_dst, 20) = 2753) OR (bitShiftRight(ip_dst, 16) = 49320) OR (bitShiftRight(ip_dst, 22) = 401) OR (bitShiftRight(ip_dst, 16) = 43518) OR ((ip_dst = 0) AND match(s_dstaddr, '^(?i)(f[cd]|fe[89ab])[0-9a-f]*:')) AS dst_private,
            multiIf(s_direction = 'egress', 1, s_direction = 'ingress', 2, (s_srcaddr = '') OR (s_dstaddr = ''), 0, src_private AND (NOT dst_private), 1, dst_private AND (NOT src_private), 2, ifNull(n_srcport, 0) < ifNull(n_dstport, 0), 1, 2) AS dir
        FROM
        (
            WITH
                JSONExtract(getSetting('log_comment'), 'Tuple(objects Array(String), chunks Array(UInt32), starts Array(UInt64),\n                           offsets Array(UInt32), accounts Array(String), regions Array(String),\n                           flow_log_ids Array(String), fallback_times Array(UInt32), format String,\n                           width UInt16, at Array(UInt16))') AS load,
                arrayResize(load.at, 40, 1000) AS at,
                rowNumberInAllBlocks() AS row,
                if(length(load.starts) = 1, 1, arrayCount(s -> (s <= row), load.starts)) AS m,
                splitByWhitespace(line) AS f
            SELECT
                load.objects[m] AS object_id,
                load.chunks[m] AS chunk,
                toUInt32((((load.offsets[m]) + row) - (load.starts[m])) + 1) AS position,
                load.flow_log_ids[m] AS flow_log_id,
                load.accounts[m] AS file_account,
                load.regions[m] AS file_region,
                load.fallback_times[m] AS fallback_time,
                load.format AS format,
                load.width AS width,
                length(f) AS fields,
                if((f[at[1]]) = '-', '', f[at[1]]) AS s_version,
                if((f[at[2]]) = '-', '', f[at[2]]) AS s_account,
                if((f[at[3]]) = '-', '', f[at[3]]) AS s_interface,
                if((f[at[4]]) = '-', '', f[at[4]]) AS s_srcaddr,
                if((f[at[5]]) = '-', '', f[at[5]]) AS s_dstaddr,
                if((f[at[6]]) = '-', '', f[at[6]]) AS s_srcport,
                if((f[at[7]]) = '-', '', f[at[7]]) AS s_dstport,
                if((f[at[8]]) = '-', '', f[at[8]]) AS s_protocol,
                if((f[at[9]]) = '-', '', f[at[9]]) AS s_packets,
                if((f[at[10]]) = '-', '', f[at[10]]) AS s_bytes,
                if((f[at[11]]) = '-', '', f[at[11]]) AS s_start,
                if((f[at[12]]) = '-', '', f[at[12]]) AS s_end,
                if((f[at[13]]) = '-', '', f[at[13]]) AS s_action,
                if((f[at[14]]) = '-', '', f[at[14]]) AS s_status,
                if((f[at[15]]) = '-', '', f[at[15]]) AS vpc_id,
                if((f[at[17]]) = '-', '', f[at[17]]) AS instance_id,
                if((f[at[18]]) = '-', '', f[at[18]]) AS s_tcp_flags,
                if((f[at[22]]) = '-', '', f[at[22]]) AS s_region,
                if((f[at[28]]) = '-', '', f[at[28]]) AS s_direction,
                if((f[at[29]]) = '-', '', f[at[29]]) AS s_traffic_path,
                line
            FROM flowlog_landing
        )
    )
);

CREATE TABLE flowlog_records
(
    `record_id` UInt64,
    `object_id` String,
    `position` UInt32,
    `flow_log_id` LowCardinality(String),
    `account_id` LowCardinality(String),
    `interface_id` String,
    `instance_id` String,
    `start_time` DateTime('UTC'),
    `end_time` DateTime('UTC'),
    `action` LowCardinality(String),
    `log_status` LowCardinality(String),
    `direction` LowCardinality(String),
    `local_address` String,
    `remote_address` String,
    `local_port` UInt16,
    `remote_port` UInt16,
    `protocol` UInt8,
    `packets` UInt64,
    `bytes` UInt64,
    `format` LowCardinality(String),
    `line` String
)
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(start_time)
ORDER BY (interface_id, start_time, record_id)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192, merge_selector_base = 20;

CREATE MATERIALIZED VIEW flowlog_records_mv TO flowlog_records
(
    `record_id` UInt64,
    `object_id` String,
    `position` UInt32,
    `flow_log_id` LowCardinality(String),
    `account_id` LowCardinality(String),
    `interface_id` String,
    `instance_id` String,
    `start_time` DateTime('UTC'),
    `end_time` DateTime('UTC'),
    `action` LowCardinality(String),
    `log_status` LowCardinality(String),
    `direction` LowCardinality(String),
    `local_address` String,
    `remote_address` String,
    `local_port` UInt16,
    `remote_port` UInt16,
    `protocol` UInt8,
    `packets` UInt64,
    `bytes` UInt64,
    `format` LowCardinality(String),
    `line` String
)
AS SELECT
    record_id,
    object_id,
    position,
    flow_log_id,
    account_id,
    interface_id,
    instance_id,
    start_time,
    end_time,
    action,
    log_status,
    direction,
    local_address,
    remote_address,
    local_port,
    remote_port,
    ifNull(protocol, 0) AS protocol,
    packets,
    bytes,
    format,
    line
FROM flowlog_parsed
WHERE (problem = '') AND (object_id != '');

CREATE VIEW flowlog_records_replay
AS WITH
    splitByChar(' ', toString(r.format)) AS names,
    arrayMap(x -> if(x = '-', '', x), splitByWhitespace(r.line)) AS f,
    f[indexOf(names, 'region')] AS line_region
SELECT
    '' AS object_id,
    toUInt32(0) AS chunk,
    r.position AS position,
    '' AS problem,
    r.record_id AS record_id,
    r.flow_log_id AS flow_log_id,
    r.account_id AS account_id,
    r.interface_id AS interface_id,
    r.instance_id AS instance_id,
    f[indexOf(names, 'vpc-id')] AS vpc_id,
    if(line_region != '', line_region, o.region) AS region,
    r.protocol AS protocol,
    r.packets AS packets,
    r.bytes AS bytes,
    r.start_time AS start_time,
    r.end_time AS end_time,
    r.action AS action,
    r.log_status AS log_status,
    f[indexOf(names, 'flow-direction')] AS flow_direction,
    r.direction AS direction,
    r.local_address AS local_address,
    r.remote_address AS remote_address,
    r.local_port AS local_port,
    r.remote_port AS remote_port,
    r.format AS format,
    r.line AS line
FROM flowlog_records AS r
FINAL
LEFT JOIN
(
    SELECT
        object_id,
        any(toString(region)) AS region
    FROM ingest_objects
    WHERE object_id IN (
        SELECT DISTINCT splitByChar(':', object_id)[1]
        FROM flowlog_records
        WHERE _partition_id = {partition:String}
    )
    GROUP BY object_id
) AS o ON o.object_id = (splitByChar(':', r.object_id)[1])
WHERE r._partition_id = {partition:String};

CREATE MATERIALIZED VIEW flowlog_rejects_mv TO ingest_rejects
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `reason` LowCardinality(String),
    `excerpt` String,
    `recorded_at` DateTime
)
AS SELECT
    object_id,
    chunk,
    position,
    problem AS reason,
    substring(line, 1, 1024) AS excerpt,
    now() AS recorded_at
FROM flowlog_parsed
WHERE problem != '';

CREATE TABLE flowlog_remote_hourly
(
    `interface_id` String,
    `hour` DateTime('UTC'),
    `remote_address` String,
    `remote_port` UInt16,
    `local_port` UInt16,
    `protocol` UInt8,
    `direction` LowCardinality(String),
    `action` LowCardinality(String),
    `flow_log_id` LowCardinality(String),
    `instance_id` SimpleAggregateFunction(max, String),
    `account_id` SimpleAggregateFunction(max, String),
    `local_address` SimpleAggregateFunction(max, String),
    `flows` SimpleAggregateFunction(sum, UInt64),
    `packets` SimpleAggregateFunction(sum, UInt64),
    `bytes` SimpleAggregateFunction(sum, UInt64),
    `first_seen` SimpleAggregateFunction(min, DateTime('UTC')),
    `last_seen` SimpleAggregateFunction(max, DateTime('UTC')),
    INDEX idx_remote_address remote_address TYPE bloom_filter GRANULARITY 1
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (interface_id, hour, remote_address, remote_port, local_port, protocol, direction, action, flow_log_id)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192, merge_selector_base = 20;

CREATE MATERIALIZED VIEW flowlog_remote_hourly_mv TO flowlog_remote_hourly
(
    `interface_id` String,
    `hour` DateTime('UTC'),
    `remote_address` String,
    `remote_port` UInt16,
    `local_port` UInt16,
    `protocol` UInt8,
    `direction` LowCardinality(String),
    `action` LowCardinality(String),
    `flow_log_id` LowCardinality(String),
    `instance_id` String,
    `account_id` String,
    `local_address` String,
    `flows` UInt64,
    `packets` UInt64,
    `bytes` UInt64,
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC')
)
AS SELECT
    interface_id,
    toStartOfHour(start_time) AS hour,
    remote_address,
    remote_port,
    local_port,
    ifNull(protocol, 0) AS protocol,
    direction,
    action,
    flow_log_id,
    max(instance_id) AS instance_id,
    max(toString(account_id)) AS account_id,
    max(local_address) AS local_address,
    count() AS flows,
    sum(packets) AS packets,
    sum(bytes) AS bytes,
    min(start_time) AS first_seen,
    max(end_time) AS last_seen
FROM flowlog_parsed
WHERE (problem = '') AND (log_status = 'OK') AND (remote_address != '')
GROUP BY
    interface_id,
    hour,
    remote_address,
    remote_port,
    local_port,
    protocol,
    direction,
    action,
    flow_log_id;

CREATE TABLE geoip_addresses
(
    `address` String,
    `country` String,
    `city` String,
    `latitude` Float32,
    `longitude` Float32,
    `asn` UInt32,
    `as_org` String
)
ENGINE = Join(ANY, LEFT, address)
SETTINGS join_any_take_last_row = 1;

CREATE TABLE guardduty_findings
(
    `finding_id` String,
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `partition` LowCardinality(String),
    `arn` String,
    `type` LowCardinality(String),
    `title` String,
    `description` String CODEC(ZSTD(3)),
    `severity` Float64,
    `created_at` DateTime64(3, 'UTC'),
    `updated_at` DateTime64(3, 'UTC'),
    `first_seen` DateTime('UTC'),
    `last_seen` DateTime('UTC'),
    `count` UInt64,
    `archived` Bool,
    `resource_type` LowCardinality(String),
    `access_key_id` String,
    `principal_id` String,
    `user_name` String,
    `user_type` LowCardinality(String),
    `instance_id` String,
    `action_type` LowCardinality(String),
    `api_name` LowCardinality(String),
    `api_service` LowCardinality(String),
    `remote_ips` Array(String),
    `resources` Array(Tuple(
        kind LowCardinality(String),
        id String)),
    `object_id` String,
    `raw` String CODEC(ZSTD(3)),
    `version` UInt64,
    INDEX idx_access_key_id access_key_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_instance_id instance_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_principal_id principal_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(created_at)
ORDER BY finding_id
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE TABLE ingest_backfill_parts
(
    `backfill_id` String,
    `part` String,
    `status` LowCardinality(String),
    `first_day` Date,
    `last_day` Date,
    `objects_found` UInt64,
    `objects_already_loaded` UInt64,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY (backfill_id, part)
SETTINGS index_granularity = 8192;

CREATE TABLE ingest_backfills
(
    `backfill_id` String,
    `job_id` String,
    `source` String,
    `first_day` Date,
    `last_day` Date,
    `retention_days` UInt32,
    `expired_before` Nullable(Date),
    `warning` String,
    `state` LowCardinality(String),
    `planned` Bool,
    `parts_planned` UInt32,
    `run_started_at` DateTime64(3, 'UTC'),
    `created_at` DateTime64(3, 'UTC'),
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY backfill_id
SETTINGS index_granularity = 8192;

CREATE TABLE ingest_jobs
(
    `job_id` String,
    `requested_by` String,
    `paths` Array(String),
    `objects_found` UInt64,
    `objects_already_loaded` UInt64,
    `discovered` Bool,
    `message` String,
    `created_at` DateTime64(3, 'UTC'),
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY job_id
SETTINGS index_granularity = 8192;

CREATE TABLE ingest_objects
(
    `object_id` String,
    `load_id` String,
    `job_id` String,
    `source` LowCardinality(String),
    `uri` String,
    `log_type` LowCardinality(String),
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `size` UInt64,
    `checksum` String,
    `retention_days` UInt32,
    `status` LowCardinality(String),
    `records_read` UInt64,
    `records_loaded` UInt64,
    `records_bad` UInt64,
    `records_expired` UInt64,
    `records_skipped` UInt64,
    `first_event` Nullable(DateTime('UTC')),
    `last_event` Nullable(DateTime('UTC')),
    `message` String,
    `loaded_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(loaded_at)
ORDER BY object_id
SETTINGS index_granularity = 8192;

CREATE TABLE ingest_rejects
(
    `object_id` String,
    `chunk` UInt32,
    `position` UInt32,
    `reason` LowCardinality(String),
    `excerpt` String CODEC(ZSTD(3)),
    `recorded_at` DateTime('UTC') DEFAULT now()
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(recorded_at)
ORDER BY (object_id, chunk, position)
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE TABLE ingest_source_state
(
    `source` String,
    `last_poll_at` Nullable(DateTime64(3, 'UTC')),
    `last_notification_at` Nullable(DateTime64(3, 'UTC')),
    `objects_enqueued` UInt64,
    `notifications` UInt64,
    `errors` UInt64,
    `last_error` String,
    `last_error_at` Nullable(DateTime64(3, 'UTC')),
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY source
SETTINGS index_granularity = 8192;

CREATE TABLE ingest_sources
(
    `name` String,
    `origin` LowCardinality(String),
    `bucket` String,
    `prefix` String,
    `queue_url` String,
    `poll` Bool,
    `poll_interval_seconds` UInt32,
    `profile` String,
    `region` String,
    `endpoint_url` String,
    `deleted` Bool,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY name
SETTINGS index_granularity = 8192;

CREATE TABLE instance_attachments
(
    `instance_id` String,
    `interface_id` String,
    `attachment_id` String,
    `vpc_id` String,
    `subnet_id` String,
    `change` LowCardinality(String),
    `source` LowCardinality(String),
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `changed_at` DateTime('UTC'),
    `evidence` String,
    INDEX idx_interface interface_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_attachment attachment_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (instance_id, interface_id, attachment_id, change, source, changed_at, evidence)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW instance_attachments_cloudtrail_mv TO instance_attachments
(
    `instance_id` String,
    `interface_id` String,
    `attachment_id` String,
    `vpc_id` String,
    `subnet_id` String,
    `change` String,
    `source` String,
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `changed_at` DateTime('UTC'),
    `evidence` String
)
AS WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    multiIf(event_name = 'RunInstances', arrayFlatten(arrayMap(instance -> arrayConcat([tuple(JSONExtractString(instance, 'instanceId'), '', '', JSONExtractString(instance, 'vpcId'), JSONExtractString(instance, 'subnetId'), 'launched')], arrayMap(eni -> tuple(JSONExtractString(instance, 'instanceId'), JSONExtractString(eni, 'networkInterfaceId'), JSONExtractString(eni, 'attachment', 'attachmentId'), JSONExtractString(eni, 'vpcId'), JSONExtractString(eni, 'subnetId'), 'attached'), JSONExtractArrayRaw(instance, 'networkInterfaceSet', 'items'))), JSONExtractArrayRaw(response, 'instancesSet', 'items'))), event_name = 'AttachNetworkInterface', [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'), JSONExtractString(response, 'attachmentId'), '', '', 'attached')], event_name = 'DetachNetworkInterface', [tuple('', '', JSONExtractString(request, 'attachmentId'), '', '', 'detached')], []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS instance_id,
    item.2 AS interface_id,
    item.3 AS attachment_id,
    item.4 AS vpc_id,
    item.5 AS subnet_id,
    item.6 AS change,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    event_time AS changed_at,
    event_id AS evidence
FROM cloudtrail_events
WHERE (event_name IN ('RunInstances', 'AttachNetworkInterface', 'DetachNetworkInterface')) AND (error_code = '') AND (event_source = 'ec2.amazonaws.com') AND (((item.1) != '') OR ((item.3) != ''));

CREATE TABLE instance_interfaces
(
    `instance_id` String,
    `interface_id` String,
    `address` String,
    `address_kind` LowCardinality(String),
    `source` LowCardinality(String),
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `valid_from` DateTime('UTC'),
    `valid_to` DateTime('UTC'),
    `evidence` String,
    INDEX idx_interface interface_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_address address TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (instance_id, interface_id, address, source, valid_from, evidence)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW instance_interfaces_cloudtrail_mv TO instance_interfaces
(
    `instance_id` String,
    `interface_id` String,
    `address` String,
    `address_kind` String,
    `source` String,
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `valid_from` DateTime('UTC'),
    `valid_to` DateTime('UTC'),
    `evidence` String
)
AS WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    multiIf(event_name = 'RunInstances', arrayFlatten(arrayMap(instance -> arrayConcat([tuple(JSONExtractString(instance, 'instanceId'), '', JSONExtractString(instance, 'privateIpAddress'), 'private')], arrayMap(eni -> tuple(JSONExtractString(instance, 'instanceId'), JSONExtractString(eni, 'networkInterfaceId'), JSONExtractString(eni, 'privateIpAddress'), 'private'), JSONExtractArrayRaw(instance, 'networkInterfaceSet', 'items'))), JSONExtractArrayRaw(response, 'instancesSet', 'items'))), event_name = 'CreateNetworkInterface', arrayMap(address -> tuple('', JSONExtractString(response, 'networkInterface', 'networkInterfaceId'), address, if(isIPv6String(address), 'ipv6', 'private')), arrayDistinct(arrayFilter(a -> (a != ''), arrayConcat([JSONExtractString(response, 'networkInterface', 'privateIpAddress')], arrayMap(p -> JSONExtractString(p, 'privateIpAddress'), JSONExtractArrayRaw(response, 'networkInterface', 'privateIpAddressesSet', 'item')), arrayMap(p -> JSONExtractString(p, 'ipv6Address'), JSONExtractArrayRaw(response, 'networkInterface', 'ipv6AddressesSet', 'item')))))), event_name = 'AttachNetworkInterface', [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'), '', '')], event_name = 'AssociateAddress', [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'), JSONExtractString(request, 'publicIp'), 'public')], []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS instance_id,
    item.2 AS interface_id,
    item.3 AS address,
    if((item.3) = '', '', item.4) AS address_kind,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    event_time AS valid_from,
    toDateTime('2105-12-31 00:00:00', 'UTC') AS valid_to,
    event_id AS evidence
FROM cloudtrail_events
WHERE (event_name IN ('RunInstances', 'CreateNetworkInterface', 'AttachNetworkInterface', 'AssociateAddress')) AND (error_code = '') AND (event_source = 'ec2.amazonaws.com') AND (((item.1) != '') OR ((item.2) != '')) AND (((item.3) != '') OR (((item.1) != '') AND ((item.2) != '')));

CREATE MATERIALIZED VIEW instance_interfaces_flowlog_mv TO instance_interfaces
(
    `instance_id` String,
    `interface_id` String,
    `address` String,
    `address_kind` String,
    `source` String,
    `account_id` String,
    `region` String,
    `valid_from` DateTime('UTC'),
    `valid_to` DateTime('UTC'),
    `evidence` String
)
AS SELECT
    instance_id,
    interface_id,
    local_address AS address,
    if(isIPv6String(local_address), 'ipv6', 'private') AS address_kind,
    'flowlogs' AS source,
    any(account_id) AS account_id,
    any(region) AS region,
    min(start_time) AS valid_from,
    max(end_time) AS valid_to,
    toString(toDate(start_time)) AS evidence
FROM flowlog_parsed
WHERE (problem = '') AND (log_status = 'OK') AND (local_address != '') AND ((instance_id != '') OR (flow_direction != ''))
GROUP BY
    instance_id,
    interface_id,
    local_address,
    toDate(start_time);

CREATE TABLE instance_inventory
(
    `instance_id` String,
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `vpc_id` String,
    `subnet_id` String,
    `instance_type` LowCardinality(String),
    `image_id` String,
    `state` LowCardinality(String),
    `launch_time` Nullable(DateTime('UTC')),
    `instance_profile_arn` String,
    `name` String,
    `tags` Map(String, String),
    `observed_at` DateTime('UTC'),
    `object_id` String
)
ENGINE = ReplacingMergeTree(observed_at)
ORDER BY instance_id
SETTINGS index_granularity = 8192;

CREATE TABLE nat_gateway_addresses
(
    `nat_gateway_id` String,
    `vpc_id` String,
    `subnet_id` String,
    `allocation_id` String,
    `association_id` String,
    `public_ip` String,
    `private_ip` String,
    `change` LowCardinality(String),
    `source` LowCardinality(String),
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `changed_at` DateTime('UTC'),
    `evidence` String,
    INDEX idx_nat_gateway nat_gateway_id TYPE bloom_filter GRANULARITY 1,
    INDEX idx_allocation allocation_id TYPE bloom_filter GRANULARITY 1
)
ENGINE = ReplacingMergeTree
ORDER BY (vpc_id, nat_gateway_id, allocation_id, public_ip, private_ip, change, source, changed_at, evidence)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192;

CREATE MATERIALIZED VIEW nat_gateway_addresses_cloudtrail_mv TO nat_gateway_addresses
(
    `nat_gateway_id` String,
    `vpc_id` String,
    `subnet_id` String,
    `allocation_id` String,
    `association_id` String,
    `public_ip` String,
    `private_ip` String,
    `change` String,
    `source` String,
    `account_id` LowCardinality(String),
    `region` LowCardinality(String),
    `changed_at` DateTime('UTC'),
    `evidence` String
)
AS WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    if(JSONHas(response, 'CreateNatGatewayResponse'), JSONExtractRaw(response, 'CreateNatGatewayResponse', 'natGateway'), JSONExtractRaw(response, 'natGateway')) AS created,
    if(JSONHas(response, 'AssociateNatGatewayAddressResponse'), JSONExtractRaw(response, 'AssociateNatGatewayAddressResponse'), response) AS associated,
    if(JSONHas(response, 'DisassociateNatGatewayAddressResponse'), JSONExtractRaw(response, 'DisassociateNatGatewayAddressResponse'), response) AS disassociated,
    if(JSONHas(request, 'DisassociateNatGatewayAddressRequest'), JSONExtractRaw(request, 'DisassociateNatGatewayAddressRequest'), request) AS released,
    multiIf(event_name = 'CreateNatGateway', created, event_name = 'AssociateNatGatewayAddress', associated, event_name = 'DisassociateNatGatewayAddress', disassociated, '') AS gateway,
    JSONExtractRaw(gateway, 'natGatewayAddressSet', 'item') AS items,
    if(JSONType(items) = 'Array', JSONExtractArrayRaw(items), if(items = '', [], [items])) AS addresses,
    coalesce(nullIf(JSONExtractRaw(released, 'AssociationId'), ''), JSONExtractRaw(released, 'associationIds'), JSONExtractRaw(released, 'AssociationIds')) AS named,
    arrayFilter(x -> (x != ''), arrayMap(x -> if(JSONType(x) = 'Object', JSONExtractString(x, 'content'), JSONExtractString(x)), multiIf(JSONType(named) = 'Array', JSONExtractArrayRaw(named), (JSONType(named) = 'Object') AND JSONHas(named, 'item'), JSONExtractArrayRaw(named, 'item'), named = '', [], [named]))) AS association_ids,
    coalesce(nullIf(JSONExtractString(gateway, 'natGatewayId'), ''), JSONExtractString(released, 'NatGatewayId'), JSONExtractString(released, 'natGatewayId')) AS gateway_id,
    event_time + toIntervalSecond(ifNull(nullIf(toUInt32OrZero(replaceAll(JSONExtractRaw(released, 'MaxDrainDurationSeconds'), '"', '')), 0), 350)) AS released_at,
    coalesce(nullIf(JSONExtractString(response, 'DeleteNatGatewayResponse', 'natGatewayId'), ''), nullIf(JSONExtractString(response, 'natGatewayId'), ''), nullIf(JSONExtractString(request, 'DeleteNatGatewayRequest', 'NatGatewayId'), ''), JSONExtractString(request, 'natGatewayId')) AS deleted,
    multiIf((event_name IN ('CreateNatGateway', 'AssociateNatGatewayAddress')), arrayMap(a -> tuple(JSONExtractString(gateway, 'natGatewayId'), JSONExtractString(gateway, 'vpcId'), JSONExtractString(gateway, 'subnetId'), JSONExtractString(a, 'allocationId'), JSONExtractString(a, 'publicIp'), JSONExtractString(a, 'privateIp'), if(event_name = 'CreateNatGateway', 'created', 'associated'), JSONExtractString(a, 'associationId')), addresses), (event_name = 'DisassociateNatGatewayAddress') AND (length(addresses) > 0), arrayMap(a -> tuple(gateway_id, '', '', JSONExtractString(a, 'allocationId'), JSONExtractString(a, 'publicIp'), JSONExtractString(a, 'privateIp'), 'disassociated', JSONExtractString(a, 'associationId')), addresses), event_name = 'DisassociateNatGatewayAddress', arrayMap(a -> tuple(gateway_id, '', '', '', '', '', 'disassociated', a), association_ids), event_name = 'DeleteNatGateway', [tuple(deleted, '', '', '', '', '', 'deleted', '')], event_name = 'AllocateAddress', [tuple('', '', '', JSONExtractString(response, 'allocationId'), JSONExtractString(response, 'publicIp'), '', 'allocated', '')], []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS nat_gateway_id,
    item.2 AS vpc_id,
    item.3 AS subnet_id,
    item.4 AS allocation_id,
    item.8 AS association_id,
    item.5 AS public_ip,
    item.6 AS private_ip,
    item.7 AS change,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    if((item.7) = 'disassociated', released_at, event_time) AS changed_at,
    event_id AS evidence
FROM cloudtrail_events
WHERE (event_name IN ('CreateNatGateway', 'AssociateNatGatewayAddress', 'DisassociateNatGatewayAddress', 'DeleteNatGateway', 'AllocateAddress')) AND (error_code = '') AND (event_source = 'ec2.amazonaws.com') AND (((item.1) != '') OR (((item.4) != '') AND ((item.5) != ''))) AND (((item.7) != 'created') OR ((item.2) != ''));

CREATE TABLE store_meta
(
    `key` String,
    `value` String,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key
SETTINGS index_granularity = 8192;
