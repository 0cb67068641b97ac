-- Per-entry deltas over a window: snapshots from the baseline on, plus the live counters.
-- A series restarts (the later value counts in full, never a negative difference) when the
-- entry is new, its counters went down, pg_stat_statements was reset or lost its counters
-- (pg_stat_statements_info.stats_reset moves: a reset, a crash, a Neon compute restart), or the
-- entry was evicted and re-created (stats_since, 17+). A clean restart alone is NOT a restart
-- of the series: pg_stat_statements.save keeps the counters (and stats_reset) across it, so the
-- server start time only counts when stats_reset is unknown.
WITH /* dbadmin */ r AS (/*PGSS_ROWS*/), live AS (
    SELECT 9223372036854775807::bigint AS sid,
           (SELECT stats_reset FROM pg_stat_statements_info) AS stats_reset,
           pg_postmaster_start_time() AS server_started,
           r.userid, r.dbid, r.queryid, r.toplevel, r.calls, r.total_ms, r.rows,
           r.shared_blks_hit, r.shared_blks_read, r.temp_blks_read, r.temp_blks_written,
           r.io_ms, r.stats_since
    FROM r
    WHERE r.queryid IS NOT NULL
), points AS (
    SELECT s.id AS sid, s.stats_reset, s.server_started,
           p.userid, p.dbid, p.queryid, p.toplevel, p.calls, p.total_ms, p.rows,
           p.shared_blks_hit, p.shared_blks_read, p.temp_blks_read, p.temp_blks_written,
           p.io_ms, p.stats_since
    FROM dbadmin.pgss_snapshots s
    JOIN dbadmin.pgss_snapshot_rows p ON p.snapshot_id = s.id
    WHERE s.id >= %(base_id)s
    UNION ALL
    SELECT * FROM live
), steps AS (
    SELECT p.*,
           lag(p.sid) OVER w AS p_sid,
           lag(p.calls) OVER w AS p_calls,
           lag(p.total_ms) OVER w AS p_total_ms,
           lag(p.rows) OVER w AS p_rows,
           lag(p.shared_blks_hit) OVER w AS p_hit,
           lag(p.shared_blks_read) OVER w AS p_read,
           lag(p.temp_blks_read) OVER w AS p_temp_read,
           lag(p.temp_blks_written) OVER w AS p_temp_written,
           lag(p.io_ms) OVER w AS p_io_ms,
           lag(p.stats_reset) OVER w AS p_stats_reset,
           lag(p.server_started) OVER w AS p_server_started,
           lag(p.stats_since) OVER w AS p_stats_since
    FROM points p
    WINDOW w AS (PARTITION BY p.userid, p.dbid, p.queryid, p.toplevel ORDER BY p.sid)
), d AS (
    SELECT s.*,
           (s.p_sid IS NULL
            OR s.calls < s.p_calls
            OR s.total_ms < s.p_total_ms
            OR s.stats_reset IS DISTINCT FROM s.p_stats_reset
            OR (s.stats_reset IS NULL
                AND s.server_started IS DISTINCT FROM s.p_server_started)
            OR s.stats_since IS DISTINCT FROM s.p_stats_since) AS restarted
    FROM steps s
    WHERE s.sid > %(base_id)s
), agg AS (
    SELECT userid, dbid, queryid, toplevel,
           sum(CASE WHEN restarted THEN calls ELSE calls - p_calls END) AS calls,
           sum(CASE WHEN restarted THEN total_ms ELSE total_ms - p_total_ms END) AS total_ms,
           sum(CASE WHEN restarted THEN rows ELSE rows - p_rows END) AS rows,
           sum(CASE WHEN restarted THEN shared_blks_hit ELSE shared_blks_hit - p_hit END)
             AS shared_blks_hit,
           sum(CASE WHEN restarted THEN shared_blks_read ELSE shared_blks_read - p_read END)
             AS shared_blks_read,
           sum(CASE WHEN restarted THEN temp_blks_read + temp_blks_written
                    ELSE temp_blks_read - p_temp_read + temp_blks_written - p_temp_written END)
             AS temp_blks,
           sum(CASE WHEN restarted THEN io_ms ELSE io_ms - p_io_ms END) AS io_ms,
           count(*) FILTER (WHERE restarted AND p_sid IS NOT NULL) AS restarts
    FROM d
    GROUP BY userid, dbid, queryid, toplevel
)
SELECT a.queryid, coalesce(t.query, live_text.query) AS query, a.calls, a.total_ms,
       NULL::double precision AS max_ms, NULL::double precision AS stddev_ms, a.rows,
       a.shared_blks_hit, a.shared_blks_read, a.temp_blks, a.io_ms,
       u.rolname AS username, db.datname AS database, a.toplevel, a.restarts
FROM agg a
LEFT JOIN dbadmin.pgss_query_texts t
       ON t.userid = a.userid AND t.dbid = a.dbid AND t.queryid = a.queryid
LEFT JOIN LATERAL (
    SELECT r.query FROM r
    WHERE r.userid = a.userid AND r.dbid = a.dbid AND r.queryid = a.queryid
    LIMIT 1
) live_text ON true
LEFT JOIN pg_roles u ON u.oid = a.userid
LEFT JOIN pg_database db ON db.oid = a.dbid
WHERE a.calls > 0 AND (%(all_databases)s OR db.datname = current_database())
