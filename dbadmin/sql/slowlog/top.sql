-- Current pg_stat_statements counters with role and database names.
-- The PGSS_ROWS marker below is replaced by pgss_rows.sql or pgss_rows.17.sql.
WITH /* dbadmin */ r AS (/*PGSS_ROWS*/)
SELECT r.queryid, r.query, r.calls, r.total_ms, r.max_ms, r.stddev_ms, r.rows,
       r.shared_blks_hit, r.shared_blks_read, r.temp_blks_read + r.temp_blks_written AS temp_blks,
       r.io_ms, u.rolname AS username, d.datname AS database, r.toplevel
FROM r
LEFT JOIN pg_roles u ON u.oid = r.userid
LEFT JOIN pg_database d ON d.oid = r.dbid
WHERE (%(all_databases)s OR d.datname = current_database())
