-- pg_stat_statements rows with stable column names (extension 1.9 / 1.10: PostgreSQL 14-16).
-- I/O time is blk_read_time + blk_write_time; there is no per-entry stats_since.
SELECT s.userid, s.dbid, s.queryid, s.toplevel, s.query,
       s.calls, s.total_exec_time AS total_ms, s.max_exec_time AS max_ms,
       s.stddev_exec_time AS stddev_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_read, s.temp_blks_written,
       s.blk_read_time + s.blk_write_time AS io_ms,
       NULL::timestamptz AS stats_since
FROM pg_stat_statements s
