-- activity_visibility: can this role see other roles' sessions in pg_stat_activity?
-- (superusers and members of pg_read_all_stats / pg_monitor can; others see NULL state and
-- backend_type for them).
-- Parameters: none.
SELECT
    (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
        OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS sees_all,
    current_user AS role,
    (SELECT count(*) FROM pg_stat_activity
      WHERE backend_type IS NULL AND usesysid IS NOT NULL) AS hidden_sessions
