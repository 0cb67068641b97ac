-- What dbadmin can see and do about pg_stat_statements in this database.
SELECT /* dbadmin */ current_setting('server_version_num')::int AS server_version_num,
       current_database() AS database,
       current_user AS username,
       (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS superuser,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,
       (SELECT setting FROM pg_settings WHERE name = 'shared_preload_libraries') AS preload,
       (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS ext_version,
       (SELECT extnamespace::regnamespace::text FROM pg_extension
         WHERE extname = 'pg_stat_statements') AS ext_schema,
       (SELECT default_version FROM pg_available_extensions
         WHERE name = 'pg_stat_statements') AS ext_available,
       (SELECT setting FROM pg_settings WHERE name = 'log_min_duration_statement')
         AS log_min_duration_statement,
       has_database_privilege(current_database(), 'CREATE') AS can_create_schema
