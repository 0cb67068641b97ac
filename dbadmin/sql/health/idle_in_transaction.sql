-- idle_in_transaction: sessions that opened a transaction and went quiet (they hold locks and
-- hold back vacuum). Parameters: none.
SELECT pid,
       usename AS "user",
       datname AS database,
       application_name,
       client_addr::text AS client_addr,
       state,
       extract(epoch FROM clock_timestamp() - state_change)::float8 AS seconds,
       extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_seconds,
       left(query, 200) AS last_query
  FROM pg_stat_activity
 WHERE state IN ('idle in transaction', 'idle in transaction (aborted)')
   AND pid <> pg_backend_pid()
 ORDER BY seconds DESC
 LIMIT 20
