-- VPC Flow Logs: landing pipe, parsing view, flow records, per-object counts, hourly rollups, and
-- the addresses and interfaces of EC2 instances from every source that shows them.
--
-- The loader reads an object's header line itself (custom formats differ per flow log) and sends
-- the other lines as LineAsString to flowlog_landing with the setting
-- log_comment = {"object_id": <load id>, "chunk": n, "offset": <file line number of the chunk's
-- first line, minus one>, "account": <account from the object path>, "region": ...,
-- "flow_log_id": <fl-… from the file name>, "format": <the header's field names, space-separated>,
-- "width": <fields in the header>, "at": [<position of each known field, 1000 if absent>],
-- "fallback_time": <the file's delivery time, for formats without start>}.
-- flowlog_parsed_mv splits every line once and routes rows by `problem`.

CREATE TABLE IF NOT EXISTS flowlog_landing
(
    line String
)
ENGINE = Null;

-- statement-break

CREATE TABLE IF NOT EXISTS flowlog_parsed
(
    object_id String,
    chunk UInt32,
    position UInt32,
    problem LowCardinality(String),
    record_id UInt64,
    flow_log_id LowCardinality(String),
    account_id LowCardinality(String),
    interface_id String,
    instance_id String,
    vpc_id LowCardinality(String),
    region LowCardinality(String),
    protocol Nullable(UInt8),
    packets UInt64,
    bytes UInt64,
    start_time DateTime('UTC'),
    end_time DateTime('UTC'),
    action LowCardinality(String),
    log_status LowCardinality(String),
    flow_direction LowCardinality(String),
    direction LowCardinality(String),
    local_address String,
    remote_address String,
    local_port UInt16,
    remote_port UInt16,
    format LowCardinality(String),
    line String
)
ENGINE = Null;

-- statement-break

-- Three nested steps, each computing its columns once: a WITH alias is expanded wherever it is
-- used, and expanding the direction test into every column that depends on it made the analysis
-- of each INSERT cost more than parsing 50,000 lines.
CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_parsed_mv TO flowlog_parsed AS
SELECT
    object_id,
    chunk,
    position,
    multiIf(
        fields != width, concat('expected ', toString(width), ' fields (header), found ', toString(fields)),
        s_version != '' AND isNull(toUInt8OrNull(s_version)), 'bad version',
        s_interface = '' AND s_status = '', 'no interface-id',
        NOT (s_srcaddr = '' OR ip_src != 0 OR s_srcaddr = '0.0.0.0' OR isIPv6String(s_srcaddr)), 'bad srcaddr',
        NOT (s_dstaddr = '' OR ip_dst != 0 OR s_dstaddr = '0.0.0.0' OR isIPv6String(s_dstaddr)), 'bad dstaddr',
        s_srcport != '' AND isNull(n_srcport), 'bad srcport',
        s_dstport != '' AND isNull(n_dstport), 'bad dstport',
        s_protocol != '' AND isNull(n_protocol), 'bad protocol',
        s_packets != '' AND isNull(toUInt64OrNull(s_packets)), 'bad packets',
        s_bytes != '' AND isNull(toUInt64OrNull(s_bytes)), 'bad bytes',
        isNull(t_start) OR t_start >= 4294967295, 'no valid start time',
        s_end != '' AND isNull(toUInt64OrNull(s_end)), 'bad end time',
        s_action NOT IN ('', 'ACCEPT', 'REJECT'), 'bad action',
        s_status NOT IN ('', 'OK', 'NODATA', 'SKIPDATA'), 'bad log-status',
        s_tcp_flags != '' AND isNull(toUInt8OrNull(s_tcp_flags)), 'bad tcp-flags',
        s_traffic_path != '' AND isNull(toUInt8OrNull(s_traffic_path)), 'bad traffic-path',
        '') AS problem,
    -- A flow's identity, the same whatever the custom format that delivered it: two flow logs on
    -- one interface, or one file loaded under two names, give one record.
    cityHash64(s_interface, s_srcaddr, s_dstaddr, s_srcport, s_dstport, s_protocol, s_packets, s_bytes,
        ifNull(t_start, 0), ifNull(t_end, 0), s_action, s_status) AS record_id,
    flow_log_id,
    if(s_account IN ('', 'unknown'), file_account, s_account) AS account_id,
    s_interface AS interface_id,
    instance_id,
    vpc_id,
    if(s_region = '', file_region, s_region) AS region,
    n_protocol AS protocol,
    toUInt64OrZero(s_packets) AS packets,
    toUInt64OrZero(s_bytes) AS bytes,
    toDateTime(least(ifNull(t_start, 0), 4294967295), 'UTC') AS start_time,
    toDateTime(least(ifNull(t_end, 0), 4294967295), 'UTC') AS end_time,
    s_action AS action,
    if(s_status = '', 'OK', s_status) AS log_status,
    s_direction AS flow_direction,
    transform(dir, [1, 2], ['egress', 'ingress'], '') AS direction,
    multiIf(dir = 1, s_srcaddr, dir = 2, s_dstaddr, '') AS local_address,
    multiIf(dir = 1, s_dstaddr, dir = 2, s_srcaddr, '') AS remote_address,
    -- Ports of the two sides, with the ephemeral one (the larger, when 1024 or more) as 0: a
    -- client's random ports say nothing and would multiply rollup rows. The raw line keeps both.
    if(l_port > r_port AND l_port >= 1024, 0, l_port) AS local_port,
    if(r_port > l_port AND r_port >= 1024, 0, r_port) AS remote_port,
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
            -- A format without start (allowed: the header decides) takes the file's delivery time.
            if(s_start = '' AND fallback_time > 0, toUInt64(fallback_time), toUInt64OrNull(s_start)) AS t_start,
            ifNull(toUInt64OrNull(s_end), t_start) AS t_end,
            toUInt32(toIPv4OrZero(s_srcaddr)) AS ip_src,
            toUInt32(toIPv4OrZero(s_dstaddr)) AS ip_dst,
            -- Private, shared and link-local ranges (integer tests: CIDR functions cost more than
            -- the rest of the parse): an instance's own side in a format without flow-direction.
            bitShiftRight(ip_src, 24) = 10 OR bitShiftRight(ip_src, 20) = 2753 OR bitShiftRight(ip_src, 16) = 49320
                OR bitShiftRight(ip_src, 22) = 401 OR bitShiftRight(ip_src, 16) = 43518
                OR (ip_src = 0 AND match(s_srcaddr, '^(?i)(f[cd]|fe[89ab])[0-9a-f]*:')) AS src_private,
            bitShiftRight(ip_dst, 24) = 10 OR bitShiftRight(ip_dst, 20) = 2753 OR bitShiftRight(ip_dst, 16) = 49320
                OR bitShiftRight(ip_dst, 22) = 401 OR bitShiftRight(ip_dst, 16) = 43518
                OR (ip_dst = 0 AND match(s_dstaddr, '^(?i)(f[cd]|fe[89ab])[0-9a-f]*:')) AS dst_private,
            -- 1: egress (the interface's side is srcaddr), 2: ingress, 0: unknown (NODATA, SKIPDATA).
            multiIf(
                s_direction = 'egress', 1,
                s_direction = 'ingress', 2,
                s_srcaddr = '' OR s_dstaddr = '', 0,
                src_private AND NOT dst_private, 1,
                dst_private AND NOT src_private, 2,
                -- Both sides of one class: the side with the service (smaller) port is taken as
                -- the interface's own (a connection to this interface, or its reply). Formats
                -- with flow-direction (version 5) never need this guess.
                ifNull(toUInt16OrNull(s_srcport), 0) < ifNull(toUInt16OrNull(s_dstport), 0), 1,
                2) AS dir
        FROM
        (
            WITH
                JSONExtract(getSetting('log_comment'),
                    'Tuple(object_id String, chunk UInt32, offset UInt32, account String, region String,
                           flow_log_id String, format String, width UInt16, at Array(UInt16),
                           fallback_time UInt32)') AS load,
                -- at[k]: where the k-th known field (ingest.flowlogs.FIELD_VERSIONS order) is in
                -- the line, from the file's header; 1000 (past the end: '') when it is absent.
                arrayResize(load.at, 40, 1000) AS at,
                -- Runs of blanks separate fields (a doubled space or a CR at the end is not a new
                -- field); `-` (not applicable) and an absent field both read as ''.
                arrayMap(x -> if(x = '-', '', x), splitByWhitespace(line)) AS f
            SELECT
                load.object_id AS object_id,
                load.chunk AS chunk,
                toUInt32(load.offset + rowNumberInAllBlocks() + 1) AS position,
                load.flow_log_id AS flow_log_id,
                load.account AS file_account,
                load.region AS file_region,
                load.fallback_time AS fallback_time,
                load.format AS format,
                load.width AS width,
                length(f) AS fields,
                f[at[1]] AS s_version, f[at[2]] AS s_account, f[at[3]] AS s_interface,
                f[at[4]] AS s_srcaddr, f[at[5]] AS s_dstaddr, f[at[6]] AS s_srcport, f[at[7]] AS s_dstport,
                f[at[8]] AS s_protocol, f[at[9]] AS s_packets, f[at[10]] AS s_bytes, f[at[11]] AS s_start,
                f[at[12]] AS s_end, f[at[13]] AS s_action, f[at[14]] AS s_status, f[at[15]] AS vpc_id,
                f[at[17]] AS instance_id, f[at[18]] AS s_tcp_flags, f[at[22]] AS s_region,
                f[at[28]] AS s_direction, f[at[29]] AS s_traffic_path,
                -- The other fields (subnet, pkt-*, ECS, newer ones) stay in the raw line, which the
                -- records table keeps with its format.
                line
            FROM flowlog_landing
        )
    )
);

-- statement-break

-- Flow records as delivered (NODATA and SKIPDATA rows included: they say which windows a flow log
-- covered): the raw line with its format, and the columns drill-downs and rebuilds need. Only
-- these: every column costs at ingest (50 typed columns cost twice the parse itself, measured).
-- API reads use the hourly rollups below.
CREATE TABLE IF NOT EXISTS flowlog_records
(
    record_id UInt64,
    object_id String,
    position UInt32,
    flow_log_id LowCardinality(String),
    account_id LowCardinality(String),
    interface_id String,
    instance_id String,
    start_time DateTime('UTC'),
    end_time DateTime('UTC'),
    action LowCardinality(String),
    log_status LowCardinality(String),
    direction LowCardinality(String),
    local_address String,
    remote_address String,
    local_port UInt16,
    remote_port UInt16,
    protocol UInt8,
    packets UInt64,
    bytes UInt64,
    -- The record as delivered and the header that names its fields: every field of every format
    -- (ECS, pkt-*, traffic-path, fields newer than this version) can be read back from these.
    -- LZ4, not ZSTD: flow volume makes compression speed an ingest bottleneck (measured).
    format LowCardinality(String),
    line String
)
-- The same flow delivered twice (two flow logs on one interface, a file under two names) has
-- the same sort key: merges keep one.
ENGINE = ReplacingMergeTree
-- Monthly partitions: a backfill of a year of files touches 13 (the insert limit is 100).
PARTITION BY toYYYYMM(start_time)
-- Drill-downs read one interface over a time range.
ORDER BY (interface_id, start_time, record_id)
-- Retention (ROLETRAIL_RETENTION_DAYS, applied at start-up); whole parts are dropped.
TTL start_time + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_records_mv TO flowlog_records AS
SELECT
    record_id, object_id, position, flow_log_id, account_id, interface_id, instance_id, start_time, end_time,
    action, log_status, direction, local_address, remote_address, local_port, remote_port,
    ifNull(protocol, 0) AS protocol, packets, bytes, format, line
FROM flowlog_parsed
WHERE problem = '';

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_rejects_mv TO ingest_rejects AS
SELECT
    object_id,
    chunk,
    position,
    problem AS reason,
    substring(line, 1, 1024) AS excerpt,
    now() AS recorded_at
FROM flowlog_parsed
WHERE problem != '';

-- statement-break

-- Lines read per object and flow day, and how many were valid: the loader reconciles
-- read = loaded + bad + expired from this table.
CREATE TABLE IF NOT EXISTS flowlog_load_counts
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

CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_load_counts_mv TO flowlog_load_counts AS
SELECT
    object_id,
    toDate(start_time) AS day,
    count() AS records_read,
    countIf(problem = '') AS records_valid,
    minIf(start_time, problem = '') AS first_event,
    maxIf(start_time, problem = '') AS last_event
FROM flowlog_parsed
GROUP BY object_id, day;

-- statement-break

-- Traffic of an interface per hour, remote address, ports, protocol, direction and action: the
-- network summary, remote addresses and new-address deviations of an instance, and the IP
-- address pivot, read only this.
-- Ports as in flowlog_parsed (the ephemeral side is 0). Sums are kept per flow log: reads take the
-- largest flow log's figure, so two flow logs capturing one interface do not double its traffic.
CREATE TABLE IF NOT EXISTS flowlog_remote_hourly
(
    interface_id String,
    hour DateTime('UTC'),
    remote_address String,
    remote_port UInt16,
    local_port UInt16,
    protocol UInt8,
    direction LowCardinality(String),
    action LowCardinality(String),
    flow_log_id LowCardinality(String),
    instance_id SimpleAggregateFunction(max, String),
    account_id SimpleAggregateFunction(max, String),
    local_address SimpleAggregateFunction(max, String),
    flows SimpleAggregateFunction(sum, UInt64),
    packets SimpleAggregateFunction(sum, UInt64),
    bytes SimpleAggregateFunction(sum, UInt64),
    first_seen SimpleAggregateFunction(min, DateTime('UTC')),
    last_seen SimpleAggregateFunction(max, DateTime('UTC')),
    -- The IP address pivot (which instances talked to an address) reads by address: a skip index
    -- keeps it to the granules that hold it (one rollup, not a second one per address, is
    -- cheaper at ingest, where flow volume makes every view count).
    INDEX idx_remote_address remote_address TYPE bloom_filter GRANULARITY 1
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
-- Read by interface (an instance's interfaces) over a time range.
ORDER BY (interface_id, hour, remote_address, remote_port, local_port, protocol, direction, action, flow_log_id)
TTL hour + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_remote_hourly_mv TO flowlog_remote_hourly AS
SELECT
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
WHERE problem = '' AND log_status = 'OK' AND remote_address != ''
GROUP BY interface_id, hour, remote_address, remote_port, local_port, protocol, direction, action, flow_log_id;

-- statement-break

-- Per interface and hour: traffic in and out and the coverage of the flow logs (windows with
-- NODATA, windows where AWS skipped records: SKIPDATA).
CREATE TABLE IF NOT EXISTS flowlog_interface_hourly
(
    interface_id String,
    hour DateTime('UTC'),
    flow_log_id LowCardinality(String),
    instance_id SimpleAggregateFunction(max, String),
    account_id SimpleAggregateFunction(max, String),
    vpc_id SimpleAggregateFunction(max, String),
    flows SimpleAggregateFunction(sum, UInt64),
    accepted SimpleAggregateFunction(sum, UInt64),
    rejected SimpleAggregateFunction(sum, UInt64),
    packets_in SimpleAggregateFunction(sum, UInt64),
    packets_out SimpleAggregateFunction(sum, UInt64),
    bytes_in SimpleAggregateFunction(sum, UInt64),
    bytes_out SimpleAggregateFunction(sum, UInt64),
    nodata SimpleAggregateFunction(sum, UInt64),
    skipdata SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (interface_id, hour, flow_log_id)
TTL hour + INTERVAL 365 DAY
SETTINGS ttl_only_drop_parts = 1, non_replicated_deduplication_window = 10000;

-- statement-break

CREATE MATERIALIZED VIEW IF NOT EXISTS flowlog_interface_hourly_mv TO flowlog_interface_hourly AS
SELECT
    interface_id,
    toStartOfHour(start_time) AS hour,
    flow_log_id,
    max(instance_id) AS instance_id,
    max(toString(account_id)) AS account_id,
    max(toString(vpc_id)) AS vpc_id,
    countIf(log_status = 'OK') AS flows,
    countIf(log_status = 'OK' AND action = 'ACCEPT') AS accepted,
    countIf(log_status = 'OK' AND action = 'REJECT') AS rejected,
    sumIf(packets, direction = 'ingress') AS packets_in,
    sumIf(packets, direction = 'egress') AS packets_out,
    sumIf(bytes, direction = 'ingress') AS bytes_in,
    sumIf(bytes, direction = 'egress') AS bytes_out,
    countIf(log_status = 'NODATA') AS nodata,
    countIf(log_status = 'SKIPDATA') AS skipdata
FROM flowlog_parsed
WHERE problem = ''
GROUP BY interface_id, hour, flow_log_id;

-- statement-break

-- Interfaces and addresses of EC2 instances over time, from every source that shows them: flow
-- logs (instance-id field and the interface's own side), an inventory the operator loads
-- (describe-instances, AWS Config), CloudTrail responses (RunInstances, CreateNetworkInterface,
-- AttachNetworkInterface, AssociateAddress) and GuardDuty findings. A row says: this interface
-- (of this instance, when known) had this address (when known) from valid_from to valid_to.
CREATE TABLE IF NOT EXISTS instance_interfaces
(
    instance_id String,
    interface_id String,
    address String,
    -- private, public, ipv6, or '' for a row that only ties an interface to an instance.
    address_kind LowCardinality(String),
    source LowCardinality(String),
    account_id LowCardinality(String),
    region LowCardinality(String),
    valid_from DateTime('UTC'),
    valid_to DateTime('UTC'),
    -- The record that showed it (event id, finding id, inventory object, flow day).
    evidence String
)
ENGINE = ReplacingMergeTree
-- Read by instance (its addresses) and by interface (its instance): the interface lookup is a
-- skip index, the instance leads the key.
ORDER BY (instance_id, interface_id, address, source, valid_from, evidence)
SETTINGS non_replicated_deduplication_window = 10000;

-- statement-break

ALTER TABLE instance_interfaces
    ADD INDEX IF NOT EXISTS idx_interface interface_id TYPE bloom_filter GRANULARITY 1;

-- statement-break

ALTER TABLE instance_interfaces
    ADD INDEX IF NOT EXISTS idx_address address TYPE bloom_filter GRANULARITY 1;

-- statement-break

-- From flows: the instance of an interface (instance-id field) and the interface's own address,
-- one row per interface, instance, address and day.
CREATE MATERIALIZED VIEW IF NOT EXISTS instance_interfaces_flowlog_mv TO instance_interfaces AS
SELECT
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
WHERE problem = '' AND log_status = 'OK' AND local_address != ''
    AND (instance_id != '' OR flow_direction != '')
GROUP BY instance_id, interface_id, local_address, toDate(start_time);

-- statement-break

-- From CloudTrail: instances launched with their interfaces and private addresses, interfaces
-- created (address) and attached (instance), elastic addresses associated with an instance.
CREATE MATERIALIZED VIEW IF NOT EXISTS instance_interfaces_cloudtrail_mv TO instance_interfaces AS
WITH
    JSONExtractRaw(raw, 'responseElements') AS response,
    JSONExtractRaw(raw, 'requestParameters') AS request,
    multiIf(
        event_name = 'RunInstances',
        arrayFlatten(arrayMap(instance -> arrayConcat(
            [tuple(JSONExtractString(instance, 'instanceId'), '', JSONExtractString(instance, 'privateIpAddress'), 'private')],
            arrayMap(eni -> tuple(JSONExtractString(instance, 'instanceId'), JSONExtractString(eni, 'networkInterfaceId'),
                                  JSONExtractString(eni, 'privateIpAddress'), 'private'),
                     JSONExtractArrayRaw(instance, 'networkInterfaceSet', 'items'))),
            JSONExtractArrayRaw(response, 'instancesSet', 'items'))),
        event_name = 'CreateNetworkInterface',
        arrayMap(address -> tuple('', JSONExtractString(response, 'networkInterface', 'networkInterfaceId'),
                                  address, if(isIPv6String(address), 'ipv6', 'private')),
                 arrayDistinct(arrayFilter(a -> a != '', arrayConcat(
                     [JSONExtractString(response, 'networkInterface', 'privateIpAddress')],
                     arrayMap(p -> JSONExtractString(p, 'privateIpAddress'),
                              JSONExtractArrayRaw(response, 'networkInterface', 'privateIpAddressesSet', 'item')),
                     arrayMap(p -> JSONExtractString(p, 'ipv6Address'),
                              JSONExtractArrayRaw(response, 'networkInterface', 'ipv6AddressesSet', 'item')))))),
        event_name = 'AttachNetworkInterface',
        [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'), '', '')],
        event_name = 'AssociateAddress',
        [tuple(JSONExtractString(request, 'instanceId'), JSONExtractString(request, 'networkInterfaceId'),
               JSONExtractString(request, 'publicIp'), 'public')],
        []) AS found,
    arrayJoin(found) AS item
SELECT
    item.1 AS instance_id,
    item.2 AS interface_id,
    item.3 AS address,
    if(item.3 = '', '', item.4) AS address_kind,
    'cloudtrail' AS source,
    toString(recipient_account_id) AS account_id,
    toString(aws_region) AS region,
    event_time AS valid_from,
    -- A launch or attachment holds from then on, as far as CloudTrail tells.
    toDateTime('2105-12-31 00:00:00', 'UTC') AS valid_to,
    event_id AS evidence
FROM cloudtrail_events
WHERE event_name IN ('RunInstances', 'CreateNetworkInterface', 'AttachNetworkInterface', 'AssociateAddress')
    AND error_code = '' AND event_source = 'ec2.amazonaws.com'
    AND (item.1 != '' OR item.2 != '') AND (item.3 != '' OR (item.1 != '' AND item.2 != ''));

-- statement-break

-- Instances of an operator's inventory (describe-instances, AWS Config): what the instance was
-- at the time of the snapshot. Newer snapshots replace older ones.
CREATE TABLE IF NOT EXISTS instance_inventory
(
    instance_id String,
    account_id LowCardinality(String),
    region LowCardinality(String),
    vpc_id String,
    subnet_id String,
    instance_type LowCardinality(String),
    image_id String,
    state LowCardinality(String),
    launch_time Nullable(DateTime('UTC')),
    instance_profile_arn String,
    name String,
    tags Map(String, String),
    observed_at DateTime('UTC'),
    object_id String
)
ENGINE = ReplacingMergeTree(observed_at)
ORDER BY instance_id;
