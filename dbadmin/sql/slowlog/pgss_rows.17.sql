-- pg_stat_statements rows with stable column names (extension 1.11+: PostgreSQL 17-18).
-- 17 renamed blk_read_time to shared_blk_read_time (and added local_*) and added stats_since.
SELECT s.userid, s.dbid, s.queryid, s.toplevel, s.query,
       s.calls, s.total_exec_time AS total_ms, s.max_exec_time AS max_ms,
       s.stddev_exec_time AS stddev_ms, s.rows,
       s.shared_blks_hit, s.shared_blks_read, s.temp_blks_read, s.temp_blks_written,
       s.shared_blk_read_time + s.shared_blk_write_time
         + s.local_blk_read_time + s.local_blk_write_time AS io_ms,
       s.stats_since
FROM pg_stat_statements s
