-- Credential issuances: one row per temporary credential minted by any call, from day one
-- (every responseElements.credentials.accessKeyId of a successful call).

CREATE TABLE IF NOT EXISTS cloudtrail_issuances
(
    access_key_id String,
    issued_at DateTime('UTC'),
    expires_at Nullable(DateTime('UTC')),
    credential_kind LowCardinality(String),
    event_source LowCardinality(String),
    role_arn String,
    role_session_name String,
    assumed_role_id String,
    assumed_role_arn String,
    federated_user_arn String,
    source_identity String,
    caller_identity_type LowCardinality(String),
    caller_principal_id String,
    caller_arn String,
    caller_account_id LowCardinality(String),
    caller_access_key_id String,
    caller_session_key String,
    caller_user_name String,
    caller_invoked_by LowCardinality(String),
    caller_session_issuer_arn String,
    saml_provider_arn String,
    saml_subject String,
    saml_subject_type LowCardinality(String),
    saml_issuer String,
    saml_audience String,
    saml_name_qualifier String,
    web_identity_provider String,
    web_identity_subject String,
    web_identity_audience String,
    cognito_identity_id String,
    target_principal String,
    session_tags Map(String, String),
    transitive_tag_keys Array(String),
    incoming_transitive_tags Map(String, String),
    recipient_account_id LowCardinality(String),
    aws_region LowCardinality(String),
    event_id String,
    shared_event_id String,
    request_id String,
    source_ip_address String,
    user_agent String,
    -- 1 for the caller's own copy of the record, 0 for the role owner's copy of a cross-account call
    -- (userIdentity AWSAccount or AWSService), which knows the caller only by account and id.
    copy_rank UInt8
)
-- Both copies of a cross-account call mint the same key: merges keep the caller's richer copy;
-- reads take argMax(copy_rank) so the answer does not depend on merge timing.
ENGINE = ReplacingMergeTree(copy_rank)
PARTITION BY toYYYYMM(issued_at)
-- Looked up by the minted key (session -> issuance -> parent key, hop by hop).
ORDER BY access_key_id
TTL issued_at + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_issuances_mv TO cloudtrail_issuances AS
WITH
    JSONExtract(raw, 'Tuple(
        requestParameters Tuple(
            roleArn String, roleSessionName String, principalArn String, providerId String, name String,
            sourceIdentity String, targetPrincipal String, customRoleArn String,
            tags Array(Tuple(key String, value String)), principalTags Map(String, String),
            transitiveTagKeys Array(String), incomingTransitiveTags Map(String, String)),
        responseElements Tuple(
            credentials Tuple(expiration String),
            assumedRoleUser Tuple(assumedRoleId String, arn String),
            federatedUser Tuple(federatedUserId String, arn String),
            sourceIdentity String, subject String, subjectType String, issuer String, audience String,
            nameQualifier String, subjectFromWebIdentityToken String, provider String, identityId String))') AS x,
    x.requestParameters AS q,
    x.responseElements AS a
SELECT
    minted_access_key_id AS access_key_id,
    event_time AS issued_at,
    -- "Jul 18, 2014, 4:07:39 PM": drop the comma after the year so the best-effort parser reads it.
    parseDateTimeBestEffortOrNull(replaceRegexpOne(a.credentials.expiration, '(\\d{4}),', '\\1'), 'UTC')
        AS expires_at,
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
    mapUpdate(CAST((arrayMap(t -> t.1, q.tags), arrayMap(t -> t.2, q.tags)), 'Map(String, String)'), q.principalTags)
        AS session_tags,
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
-- The caller's key is renamed first: the output column access_key_id (the minted key) would
-- otherwise shadow the input column of the same name.
FROM (SELECT *, access_key_id AS caller_key FROM cloudtrail_events)
WHERE minted_access_key_id != '' AND error_code = '';
