-- long_queries: statements running now, longest first. Parameters: none.
SELECT pid,
       usename AS "user",
       datname AS database,
       application_name,
       wait_event_type,
       wait_event,
       extract(epoch FROM clock_timestamp() - query_start)::float8 AS seconds,
       left(query, 200) AS query
  FROM pg_stat_activity
 WHERE state = 'active'
   AND backend_type = 'client backend'
   AND pid <> pg_backend_pid()
 ORDER BY seconds DESC
 LIMIT 20
