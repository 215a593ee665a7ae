-- Fewer, wider merges of the flow tables that grow with every record: flow volume makes their
-- merges a large part of ingest CPU.
--
-- Every row is rewritten by each merge it takes part in. With the default merge_selector_base (5)
-- parts are merged a few at a time, so a row is rewritten several times as a month fills; a base
-- of 20 lets about 20 parts of a size gather before they are merged together: fewer levels of
-- merges, each row rewritten fewer times. Measured with make bench (bench.flowlogs, 10 million
-- records, 1 thread, a quiet machine): 9.3 us of CPU per record with the default, 8.4 with this
-- (flowlog_records alone at 20: at 2 threads, 94 s of CPU and no merges left running afterwards
-- against 98 s plus 10 s of merges). The cost is more parts per month: flowlog_records is never
-- read by the API (drill-downs and the flow rebuild read it with FINAL, a month at a time); the
-- instance query, which reads flowlog_remote_hourly, was not slower at 10M (p50 125 ms against
-- 130-144 ms). The small rollups keep the default.
-- Not a mutation: table settings, applied to merges from now on.
ALTER TABLE flowlog_records MODIFY SETTING merge_selector_base = 20;

-- statement-break

ALTER TABLE flowlog_remote_hourly MODIFY SETTING merge_selector_base = 20;
