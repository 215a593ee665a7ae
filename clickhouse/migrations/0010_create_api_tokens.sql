-- API tokens created through the API (the `createApiToken` mutation), besides those configured in
-- ROLETRAIL_API_TOKENS. Only the sha256 of a secret is kept: the secret is shown once, at creation.
-- scope: read or admin. accounts: the AWS accounts the token may read (empty: every account).
-- created_by / revoked_by: the name of the admin token that did it. A revoked token keeps its row
-- (its name is never reused) with revoked_at set; the newest row per name wins.
-- No TTL: a token lives until it is revoked, and its row stays for the audit trail.
CREATE TABLE IF NOT EXISTS api_tokens
(
    name String,
    scope LowCardinality(String),
    accounts Array(String),
    secret_sha256 String,
    created_at DateTime64(3, 'UTC'),
    created_by String,
    revoked_at Nullable(DateTime64(3, 'UTC')),
    revoked_by String,
    updated_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree(updated_at)
-- Read whole (a handful of rows) by every API process, every few seconds, to check tokens.
ORDER BY name;
