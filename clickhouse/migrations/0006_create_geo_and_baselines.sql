-- Geolocation of source addresses and the daily rollups that deviations compare sessions with.
--
-- ingest/geo.py looks every new public source address up in a MaxMind-format database
-- (ROLETRAIL_GEOIP_DB / ROLETRAIL_GEOIP_ASN_DB, or the bundled DB-IP City Lite) before the records
-- that carry it are inserted, and adds it to geoip_addresses, an in-memory Join table that joinGet
-- reads inside ClickHouse. The geo columns of cloudtrail_events are MATERIALIZED: computed when a
-- row is written, so every path that writes events (the parsing view, `roletrail rebuild`)
-- geolocates without listing them, and a rebuild after another database is configured geolocates
-- the stored events again. Rows written before this migration compute them when read, until a
-- rebuild stores them. (An ip_trie dictionary over the database's networks was the first design:
-- a dictionary's ClickHouse source must name a user and password in this DDL on a server whose
-- default user has one, and the whole database is too big to load; seen addresses are few.)

CREATE TABLE IF NOT EXISTS geoip_addresses
(
    address String,
    country String,
    city String,
    latitude Float32,
    longitude Float32,
    asn UInt32,
    as_org String
)
-- Kept in memory (and on disk) for joinGet by address; a later row for an address replaces it.
ENGINE = Join(ANY, LEFT, address)
SETTINGS join_any_take_last_row = 1;

-- statement-break

-- Where a call came from, as a location: `public` (geolocated), `private` (RFC 1918, CGNAT,
-- loopback, link-local, unique-local: no country), `vpc_endpoint` (through a VPC endpoint: the
-- address is the caller's inside its VPC, no country), `aws_service` (a hostname or "AWS Internal":
-- an AWS service called, not a place), '' (no source address at all).
ALTER TABLE cloudtrail_events
    ADD COLUMN IF NOT EXISTS source_location_kind LowCardinality(String) MATERIALIZED multiIf(
        vpc_endpoint_id != '', 'vpc_endpoint',
        source_ip_address = '', '',
        source_ip IS NULL, 'aws_service',
        -- The parsed address in IPv6 form (IPv4 as ::ffff:a.b.c.d), so every range is IPv6 too.
        arrayExists(r -> isIPAddressInRange(IPv6NumToString(ifNull(source_ip, toIPv6('::'))), r),
            ['::ffff:10.0.0.0/104', '::ffff:172.16.0.0/108', '::ffff:192.168.0.0/112', '::ffff:100.64.0.0/106',
             '::ffff:127.0.0.0/104', '::ffff:169.254.0.0/112', '::ffff:0.0.0.0/104', 'fc00::/7', 'fe80::/10',
             '::1/128']), 'private',
        'public'),
    ADD COLUMN IF NOT EXISTS source_country LowCardinality(String) MATERIALIZED if(
        source_location_kind = 'public', joinGet('geoip_addresses', 'country', source_ip_address), ''),
    ADD COLUMN IF NOT EXISTS source_city String MATERIALIZED if(
        source_location_kind = 'public', joinGet('geoip_addresses', 'city', source_ip_address), ''),
    ADD COLUMN IF NOT EXISTS source_latitude Float32 MATERIALIZED if(
        source_location_kind = 'public',
        ifNull(joinGetOrNull('geoip_addresses', 'latitude', source_ip_address), nan), nan),
    ADD COLUMN IF NOT EXISTS source_longitude Float32 MATERIALIZED if(
        source_location_kind = 'public',
        ifNull(joinGetOrNull('geoip_addresses', 'longitude', source_ip_address), nan), nan),
    ADD COLUMN IF NOT EXISTS source_asn UInt32 MATERIALIZED if(
        source_location_kind = 'public', joinGet('geoip_addresses', 'asn', source_ip_address), 0),
    ADD COLUMN IF NOT EXISTS source_as_org LowCardinality(String) MATERIALIZED if(
        source_location_kind = 'public', joinGet('geoip_addresses', 'as_org', source_ip_address), '');

-- statement-break

-- Per role session per day: what it called, from where, with what, how much. Deviations read a
-- role's rows in a window (the sort key's prefix) and split them by the origin of each session,
-- resolved at query time, so the (origin principal, role) and role baselines come from one scan.
CREATE TABLE IF NOT EXISTS cloudtrail_role_days
(
    account_id LowCardinality(String),
    role_arn String,
    day Date,
    session_key String,
    first_seen SimpleAggregateFunction(min, DateTime('UTC')),
    -- Exact-unique states over the record identity: a record loaded twice counts once.
    calls AggregateFunction(uniqExact, UInt64),
    apis AggregateFunction(groupUniqArray, String),
    countries AggregateFunction(groupUniqArray, String),
    cities AggregateFunction(groupUniqArray, String),
    asns AggregateFunction(groupUniqArray, String),
    user_agents AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- Read as "this role in this window": account and role lead, then the day range.
ORDER BY (account_id, role_arn, day, session_key)
TTL day + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_role_days_mv TO cloudtrail_role_days AS
SELECT
    toString(session_issuer_account_id) AS account_id,
    session_issuer_arn AS role_arn,
    toDate(event_time) AS day,
    session_key,
    min(event_time) AS first_seen,
    uniqExactState(cityHash64(recipient_account_id, event_id)) AS calls,
    groupUniqArrayState(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)) AS apis,
    groupUniqArrayIfState(toString(source_country), source_country != '') AS countries,
    groupUniqArrayIfState(concat(source_city, ', ', source_country), source_city != '' AND source_country != '')
        AS cities,
    groupUniqArrayIfState(toString(source_asn), source_asn != 0) AS asns,
    groupUniqArrayIfState(user_agent, user_agent != '') AS user_agents
FROM cloudtrail_events
WHERE is_temporary AND session_key != '' AND session_issuer_type = 'Role' AND session_issuer_arn != ''
GROUP BY account_id, role_arn, day, session_key;

-- statement-break

-- Per account per day: the account as a whole (every caller), the widest baseline.
CREATE TABLE IF NOT EXISTS cloudtrail_account_days
(
    account_id LowCardinality(String),
    day Date,
    calls AggregateFunction(uniqExact, UInt64),
    apis AggregateFunction(groupUniqArray, String),
    countries AggregateFunction(groupUniqArray, String),
    cities AggregateFunction(groupUniqArray, String),
    asns AggregateFunction(groupUniqArray, String),
    user_agents AggregateFunction(groupUniqArray, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(day)
-- Read as "this account in this window".
ORDER BY (account_id, day)
TTL day + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS cloudtrail_account_days_mv TO cloudtrail_account_days AS
SELECT
    toString(identity_account_id) AS account_id,
    toDate(event_time) AS day,
    uniqExactState(cityHash64(recipient_account_id, event_id)) AS calls,
    groupUniqArrayState(concat(replaceOne(event_source, '.amazonaws.com', ''), ':', event_name)) AS apis,
    groupUniqArrayIfState(toString(source_country), source_country != '') AS countries,
    groupUniqArrayIfState(concat(source_city, ', ', source_country), source_city != '' AND source_country != '')
        AS cities,
    groupUniqArrayIfState(toString(source_asn), source_asn != 0) AS asns,
    groupUniqArrayIfState(user_agent, user_agent != '') AS user_agents
FROM cloudtrail_events
WHERE identity_account_id != ''
GROUP BY account_id, day;
