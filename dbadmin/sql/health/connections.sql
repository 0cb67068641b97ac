-- connections: client backends in use vs max_connections minus the reserved slots (PG 14-15).
-- Parameters: none.
SELECT
    (SELECT count(*) FROM pg_stat_activity
      WHERE backend_type = 'client backend'
         -- other roles' sessions, as a role without pg_read_all_stats sees them
         OR (backend_type IS NULL AND usesysid IS NOT NULL)) AS used,
    current_setting('max_connections')::int AS max_connections,
    current_setting('superuser_reserved_connections')::int AS reserved,
    (SELECT coalesce(json_object_agg(state, n), '{}'::json)
       FROM (SELECT coalesce(state, 'unknown') AS state, count(*) AS n
               FROM pg_stat_activity
              WHERE backend_type = 'client backend'
                 OR (backend_type IS NULL AND usesysid IS NOT NULL)
              GROUP BY 1) AS s) AS by_state
