-- The views that skip replayed flow records, and the replay view of `roletrail rebuild flows`.
--
-- `roletrail rebuild flows` refills the flow rollups (flowlog_remote_hourly,
-- flowlog_interface_hourly, the flow rows of instance_interfaces) from flowlog_records, by
-- replaying the stored records into flowlog_parsed, so that the rollup views of the migrations
-- (and no copy of them) compute the rollups again. A replayed row carries object_id = '': it comes
-- from no object. The views that record objects and loads skip such rows, so a replay neither
-- doubles the per-object counts that loads reconcile against (flowlog_load_counts) nor writes
-- every record a second time (flowlog_records). flowlog_rejects_mv needs no change: a replayed
-- row has problem = '' and never reaches it. A real load always has an object id (a load id:
-- <object_id>:<size>:<retention>, ingest.load.Loader.load_id).
--
-- MODIFY QUERY changes a view's query in place (no window in which an INSERT passes a dropped
-- view; ClickHouse 24.1 and later, checked on chDB 26.9; compose runs 25.8). If a migration
-- recreates flowlog_records_mv or flowlog_load_counts_mv in its own text instead, it must keep
-- the `object_id != ''` condition. Any later view on flowlog_parsed that counts loads or stores
-- records must skip object_id = '' as well.

ALTER TABLE flowlog_records_mv MODIFY QUERY
SELECT
    record_id, object_id, position, flow_log_id, account_id, interface_id, instance_id, start_time, end_time,
    action, log_status, direction, local_address, remote_address, local_port, remote_port,
    ifNull(protocol, 0) AS protocol, packets, bytes, format, line
FROM flowlog_parsed
WHERE problem = '' AND object_id != '';

-- statement-break

ALTER TABLE flowlog_load_counts_mv MODIFY QUERY
SELECT
    object_id,
    toDate(start_time) AS day,
    count() AS records_read,
    countIf(problem = '') AS records_valid,
    minIf(start_time, problem = '') AS first_event,
    maxIf(start_time, problem = '') AS last_event
FROM flowlog_parsed
WHERE object_id != ''
GROUP BY object_id, day;

-- statement-break

-- The stored records of one partition (a month: flowlog_records' partition id) as rows of
-- flowlog_parsed, in its column order (INSERT ... SELECT is positional; a test compares the
-- columns). flowlog_records keeps the typed columns flowlog_parsed_mv computed; the three it does
-- not keep are read back as the parsing view reads them: vpc-id, region and flow-direction from
-- the raw line by the position of their name in the stored header (`-` and an absent field give
-- ''), and the region of a format without one from the object's path (the ledger's region of the
-- object the load id starts with). Keep in step with flowlog_parsed_mv.
-- FINAL: one flow delivered twice (two flow logs, two names) is one record, as it is in reads of
-- flowlog_records.
CREATE OR REPLACE VIEW flowlog_records_replay AS
WITH
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
FROM flowlog_records AS r FINAL
LEFT JOIN
(
    -- Only the objects of this partition: the ledger holds every object ever loaded (its key is
    -- the object id, so the IN set reads just their granules).
    SELECT object_id, any(toString(region)) AS region
    FROM ingest_objects
    WHERE object_id IN
    (
        SELECT DISTINCT splitByChar(':', object_id)[1] FROM flowlog_records
        WHERE _partition_id = {partition:String}
    )
    GROUP BY object_id
) AS o ON o.object_id = splitByChar(':', r.object_id)[1]
WHERE r._partition_id = {partition:String};
