-- The flow log parsing view, replaced: several objects in one INSERT, and less work per line.
--
-- Why: every INSERT through the flow views has a fixed cost (about 50 ms of query analysis for this
-- view alone, 80 ms with the views it feeds), which made each small flow file cost as much as
-- tens of thousands of lines. The loader now sends small objects together, and log_comment
-- describes each of them (members, in row order):
-- {"objects": [<load id>...], "chunks": [n...], "starts": [<row of the INSERT where the member's
-- lines begin, 0-based>...], "offsets": [<file line number of the member's first line, minus
-- one>...], "accounts": [...], "regions": [...], "flow_log_ids": [...], "fallback_times": [...],
-- "format": <the header's field names, space-separated>, "width": <fields in the header>,
-- "at": [<position of each known field, 1000 if absent>]}. All members of one INSERT share a format.
-- Per line, `-` is now mapped to '' only in the fields read (not in every field of the line), and
-- each number is converted once.
--
-- The view is dropped and created again (ClickHouse cannot alter a view's query in place): an INSERT
-- into flowlog_landing between the two statements would pass unparsed. Migrations run before the
-- API and the workers start (STYLE B10), so none does.

DROP VIEW IF EXISTS flowlog_parsed_mv;

-- statement-break

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
        s_packets != '' AND isNull(n_packets), 'bad packets',
        s_bytes != '' AND isNull(n_bytes), 'bad bytes',
        isNull(t_start) OR t_start >= 4294967295, 'no valid start time',
        s_end != '' AND isNull(n_end), 'bad end time',
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
            toUInt64OrNull(s_packets) AS n_packets,
            toUInt64OrNull(s_bytes) AS n_bytes,
            toUInt64OrNull(s_end) AS n_end,
            -- A format without start (allowed: the header decides) takes the file's delivery time.
            if(s_start = '' AND fallback_time > 0, toUInt64(fallback_time), toUInt64OrNull(s_start)) AS t_start,
            ifNull(n_end, t_start) AS t_end,
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
                ifNull(n_srcport, 0) < ifNull(n_dstport, 0), 1,
                2) AS dir
        FROM
        (
            WITH
                JSONExtract(getSetting('log_comment'),
                    'Tuple(objects Array(String), chunks Array(UInt32), starts Array(UInt64),
                           offsets Array(UInt32), accounts Array(String), regions Array(String),
                           flow_log_ids Array(String), fallback_times Array(UInt32), format String,
                           width UInt16, at Array(UInt16))') AS load,
                -- at[k]: where the k-th known field (ingest.flowlogs.FIELD_VERSIONS order) is in
                -- the line, from the file's header; 1000 (past the end: '') when it is absent.
                arrayResize(load.at, 40, 1000) AS at,
                rowNumberInAllBlocks() AS row,
                -- The member (object) of this row: members are consecutive runs of rows. One
                -- member, the usual case for large files, needs no search.
                if(length(load.starts) = 1, 1, arrayCount(s -> s <= row, load.starts)) AS m,
                -- Runs of blanks separate fields (a doubled space or a CR at the end is not a new
                -- field).
                splitByWhitespace(line) AS f
            SELECT
                load.objects[m] AS object_id,
                load.chunks[m] AS chunk,
                toUInt32(load.offsets[m] + row - load.starts[m] + 1) AS position,
                load.flow_log_ids[m] AS flow_log_id,
                load.accounts[m] AS file_account,
                load.regions[m] AS file_region,
                load.fallback_times[m] AS fallback_time,
                load.format AS format,
                load.width AS width,
                length(f) AS fields,
                -- `-` (not applicable) and an absent field both read as ''.
                if(f[at[1]] = '-', '', f[at[1]]) AS s_version,
                if(f[at[2]] = '-', '', f[at[2]]) AS s_account,
                if(f[at[3]] = '-', '', f[at[3]]) AS s_interface,
                if(f[at[4]] = '-', '', f[at[4]]) AS s_srcaddr,
                if(f[at[5]] = '-', '', f[at[5]]) AS s_dstaddr,
                if(f[at[6]] = '-', '', f[at[6]]) AS s_srcport,
                if(f[at[7]] = '-', '', f[at[7]]) AS s_dstport,
                if(f[at[8]] = '-', '', f[at[8]]) AS s_protocol,
                if(f[at[9]] = '-', '', f[at[9]]) AS s_packets,
                if(f[at[10]] = '-', '', f[at[10]]) AS s_bytes,
                if(f[at[11]] = '-', '', f[at[11]]) AS s_start,
                if(f[at[12]] = '-', '', f[at[12]]) AS s_end,
                if(f[at[13]] = '-', '', f[at[13]]) AS s_action,
                if(f[at[14]] = '-', '', f[at[14]]) AS s_status,
                if(f[at[15]] = '-', '', f[at[15]]) AS vpc_id,
                if(f[at[17]] = '-', '', f[at[17]]) AS instance_id,
                if(f[at[18]] = '-', '', f[at[18]]) AS s_tcp_flags,
                if(f[at[22]] = '-', '', f[at[22]]) AS s_region,
                if(f[at[28]] = '-', '', f[at[28]]) AS s_direction,
                if(f[at[29]] = '-', '', f[at[29]]) AS s_traffic_path,
                -- The other fields (subnet, pkt-*, ECS, newer ones) stay in the raw line, which the
                -- records table keeps with its format.
                line
            FROM flowlog_landing
        )
    )
);
