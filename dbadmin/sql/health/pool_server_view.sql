-- pool_server_view: the server's view of one application's connections during `health pool`,
-- plus everybody else's client connections. Parameters: application_name.
SELECT coalesce((SELECT json_object_agg(state, n)
                   FROM (SELECT coalesce(state, 'unknown') AS state, count(*) AS n
                           FROM pg_stat_activity
                          WHERE application_name = %(application_name)s
                            AND backend_type = 'client backend'
                          GROUP BY 1) AS s), '{}'::json) AS ours_by_state,
       (SELECT count(*)
          FROM pg_stat_activity
         WHERE backend_type = 'client backend'
           AND application_name IS DISTINCT FROM %(application_name)s
           AND pid <> pg_backend_pid()) AS other_connections
