-- One snapshot: the run row, then every visible entry's counters (never resets anything).
WITH /* dbadmin */ run AS (
    INSERT INTO dbadmin.pgss_snapshots (stats_reset, server_started, server_version_num)
    VALUES ((SELECT stats_reset FROM pg_stat_statements_info), pg_postmaster_start_time(),
            current_setting('server_version_num')::int)
    RETURNING id, taken_at
), r AS (/*PGSS_ROWS*/), saved AS (
    INSERT INTO dbadmin.pgss_snapshot_rows
    SELECT run.id, r.userid, r.dbid, r.queryid, r.toplevel, r.calls, r.total_ms, r.max_ms,
           r.rows, r.shared_blks_hit, r.shared_blks_read, r.temp_blks_read,
           r.temp_blks_written, r.io_ms, r.stats_since
    FROM r, run
    WHERE r.queryid IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
), texts AS (
    INSERT INTO dbadmin.pgss_query_texts AS t (userid, dbid, queryid, query, last_seen)
    SELECT DISTINCT ON (r.userid, r.dbid, r.queryid) r.userid, r.dbid, r.queryid, r.query, now()
    FROM r
    WHERE r.queryid IS NOT NULL AND r.query IS NOT NULL
    ORDER BY r.userid, r.dbid, r.queryid
    ON CONFLICT (userid, dbid, queryid)
    DO UPDATE SET last_seen = excluded.last_seen, query = excluded.query
    RETURNING 1
)
SELECT run.id, run.taken_at, (SELECT count(*) FROM saved) AS entries,
       (SELECT count(*) FROM texts) AS texts
FROM run
