-- The server's TLS settings and every other client session with its TLS state. Sessions of
-- other roles show NULLs to a role without pg_read_all_stats (the caller counts them as hidden).
-- pg_settings leaves out what the role may not read (ssl_min_protocol_version needs
-- pg_read_all_settings): NULL then.
SELECT (SELECT setting FROM pg_settings WHERE name = 'ssl') AS ssl,
       (SELECT setting FROM pg_settings WHERE name = 'ssl_min_protocol_version') AS min_protocol,
       (SELECT s.ssl FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()) AS this_session_ssl,
       inet_client_addr() IS NOT NULL AS this_session_tcp,
       coalesce((
           SELECT json_agg(json_build_object(
                      'pid', a.pid, 'user', a.usename, 'database', a.datname,
                      'client', host(a.client_addr), 'application_name', a.application_name)
                  ORDER BY a.pid)
           FROM pg_stat_activity a
           JOIN pg_stat_ssl s ON s.pid = a.pid
           WHERE a.backend_type = 'client backend'
             AND a.client_addr IS NOT NULL
             AND NOT s.ssl
       ), '[]'::json) AS plain_sessions,
       (SELECT count(*)
          FROM pg_stat_activity a
         WHERE a.backend_type = 'client backend' AND a.usename <> current_user) AS other_sessions
