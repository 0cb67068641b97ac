-- When pg_stat_statements was last reset as a whole, and when the server started.
SELECT /* dbadmin */ (SELECT stats_reset FROM pg_stat_statements_info) AS stats_reset,
       pg_postmaster_start_time() AS server_started,
       now() AS now
