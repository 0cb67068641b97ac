-- vacuum: tables with many dead tuples whose last (auto)vacuum is older than max_age_hours.
-- Parameters: min_dead, max_age_hours.
SELECT schemaname AS schema,
       relname AS "table",
       n_live_tup AS live_tuples,
       n_dead_tup AS dead_tuples,
       round(100.0 * n_dead_tup / greatest(n_live_tup + n_dead_tup, 1), 1)::float8 AS dead_pct,
       greatest(last_vacuum, last_autovacuum) AS last_vacuum,
       greatest(last_analyze, last_autoanalyze) AS last_analyze
  FROM pg_stat_user_tables
 WHERE n_dead_tup >= %(min_dead)s
   AND coalesce(greatest(last_vacuum, last_autovacuum), '-infinity'::timestamptz)
       < clock_timestamp() - make_interval(hours => %(max_age_hours)s)
 ORDER BY dead_pct DESC
 LIMIT 20
