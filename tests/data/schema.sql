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

CREATE TABLE store_meta
(
    `key` String,
    `value` String,
    `updated_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
ORDER BY key
SETTINGS index_granularity = 8192;
