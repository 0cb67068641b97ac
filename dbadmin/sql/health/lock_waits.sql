-- lock_waits: each blocked session with each session blocking it (pg_locks.waitstart: PG 14+).
-- Parameters: none.
SELECT blocked.pid AS blocked_pid,
       blocked.usename AS blocked_user,
       left(blocked.query, 200) AS blocked_query,
       extract(epoch FROM clock_timestamp()
               - coalesce(w.waitstart, blocked.query_start))::float8 AS seconds,
       w.locktype,
       w.mode,
       w.relation,
       blocking.pid AS blocking_pid,
       blocking.usename AS blocking_user,
       blocking.state AS blocking_state,
       left(blocking.query, 200) AS blocking_query
  FROM pg_stat_activity AS blocked
  JOIN LATERAL (
        SELECT min(l.waitstart) AS waitstart,
               min(l.locktype) AS locktype,
               min(l.mode) AS mode,
               min(l.relation::regclass::text) AS relation
          FROM pg_locks AS l
         WHERE l.pid = blocked.pid AND NOT l.granted
       ) AS w ON true
 CROSS JOIN LATERAL unnest(pg_blocking_pids(blocked.pid)) AS b(pid)
  JOIN pg_stat_activity AS blocking ON blocking.pid = b.pid
 WHERE blocked.wait_event_type = 'Lock'
 ORDER BY seconds DESC
 LIMIT 20
