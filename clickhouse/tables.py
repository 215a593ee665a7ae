"""Table names: the only identifiers that may appear in SQL built by Python."""

from typing import Final

SCHEMA_MIGRATIONS: Final = "schema_migrations"
STORE_META: Final = "store_meta"

CLOUDTRAIL_LANDING: Final = "cloudtrail_landing"
CLOUDTRAIL_PARSED: Final = "cloudtrail_parsed"
CLOUDTRAIL_EVENTS: Final = "cloudtrail_events"
CLOUDTRAIL_ISSUANCES: Final = "cloudtrail_issuances"
CLOUDTRAIL_SESSIONS: Final = "cloudtrail_sessions"
CLOUDTRAIL_LOAD_COUNTS: Final = "cloudtrail_load_counts"
CLOUDTRAIL_ROLE_DAYS: Final = "cloudtrail_role_days"
CLOUDTRAIL_ACCOUNT_DAYS: Final = "cloudtrail_account_days"

GEOIP_ADDRESSES: Final = "geoip_addresses"

FLOWLOG_LANDING: Final = "flowlog_landing"
FLOWLOG_PARSED: Final = "flowlog_parsed"
FLOWLOG_RECORDS_REPLAY: Final = "flowlog_records_replay"
FLOWLOG_RECORDS: Final = "flowlog_records"
FLOWLOG_LOAD_COUNTS: Final = "flowlog_load_counts"
FLOWLOG_REMOTE_HOURLY: Final = "flowlog_remote_hourly"
FLOWLOG_INTERFACE_HOURLY: Final = "flowlog_interface_hourly"
INSTANCE_INTERFACES: Final = "instance_interfaces"
INSTANCE_INVENTORY: Final = "instance_inventory"
INSTANCE_ATTACHMENTS: Final = "instance_attachments"
NAT_GATEWAY_ADDRESSES: Final = "nat_gateway_addresses"

DIRECTORY_ACCOUNTS: Final = "directory_accounts"
DIRECTORY_IDENTITY_CENTER_USERS: Final = "directory_identity_center_users"

GUARDDUTY_FINDINGS: Final = "guardduty_findings"

INGEST_OBJECTS: Final = "ingest_objects"
INGEST_REJECTS: Final = "ingest_rejects"
INGEST_JOBS: Final = "ingest_jobs"
INGEST_SOURCES: Final = "ingest_sources"
INGEST_BACKFILLS: Final = "ingest_backfills"
INGEST_BACKFILL_PARTS: Final = "ingest_backfill_parts"
INGEST_SOURCE_STATE: Final = "ingest_source_state"

API_TOKENS: Final = "api_tokens"

# Event-like tables and the time column their TTL is on (ROLETRAIL_RETENTION_DAYS applies to each).
RETAINED: Final[dict[str, str]] = {
    CLOUDTRAIL_EVENTS: "event_time",
    CLOUDTRAIL_ISSUANCES: "issued_at",
    CLOUDTRAIL_SESSIONS: "day",
    GUARDDUTY_FINDINGS: "last_seen",
    FLOWLOG_RECORDS: "start_time",
    FLOWLOG_REMOTE_HOURLY: "hour",
    FLOWLOG_INTERFACE_HOURLY: "hour",
    CLOUDTRAIL_ROLE_DAYS: "day",
    CLOUDTRAIL_ACCOUNT_DAYS: "day",
}

# Tables derived from cloudtrail_events by materialized views; `roletrail rebuild` refills them.
DERIVED_FROM_EVENTS: Final = (
    CLOUDTRAIL_ISSUANCES,
    CLOUDTRAIL_SESSIONS,
    CLOUDTRAIL_ROLE_DAYS,
    CLOUDTRAIL_ACCOUNT_DAYS,
)

# Rollups of flowlog_records filled by materialized views on flowlog_parsed (besides the flow rows of
# instance_interfaces); `roletrail rebuild flows` refills them, one partition (month) at a time.
FLOW_ROLLUPS: Final = (FLOWLOG_REMOTE_HOURLY, FLOWLOG_INTERFACE_HOURLY)

# Every table that holds data (not Null-engine pipes), for tests that isolate by truncation.
DATA_TABLES: Final = (
    CLOUDTRAIL_EVENTS,
    CLOUDTRAIL_ISSUANCES,
    CLOUDTRAIL_SESSIONS,
    CLOUDTRAIL_LOAD_COUNTS,
    CLOUDTRAIL_ROLE_DAYS,
    CLOUDTRAIL_ACCOUNT_DAYS,
    GEOIP_ADDRESSES,
    INGEST_OBJECTS,
    INGEST_REJECTS,
    INGEST_JOBS,
    STORE_META,
    DIRECTORY_ACCOUNTS,
    DIRECTORY_IDENTITY_CENTER_USERS,
    GUARDDUTY_FINDINGS,
    INGEST_SOURCES,
    INGEST_BACKFILLS,
    INGEST_BACKFILL_PARTS,
    INGEST_SOURCE_STATE,
    FLOWLOG_RECORDS,
    FLOWLOG_LOAD_COUNTS,
    FLOWLOG_REMOTE_HOURLY,
    FLOWLOG_INTERFACE_HOURLY,
    INSTANCE_INTERFACES,
    INSTANCE_INVENTORY,
    API_TOKENS,
    INSTANCE_ATTACHMENTS,
    NAT_GATEWAY_ADDRESSES,
)
