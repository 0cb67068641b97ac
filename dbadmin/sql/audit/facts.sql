-- Who is auditing and what the checks need to know once: the role, its rights, the database's
-- owner, and the application role (%(app_role)s) when it exists.
SELECT current_setting('server_version') AS version,
       current_setting('server_version_num')::int AS version_num,
       current_user AS role,
       current_database() AS database,
       r.rolsuper AS superuser,
       r.rolcreaterole AS createrole,
       pg_get_userbyid(d.datdba) AS database_owner,
       pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS reads_all_stats,
       app.rolname AS app_role,
       app.rolsuper AS app_superuser,
       app.rolbypassrls AS app_bypassrls,
       app.rolcanlogin AS app_login,
       coalesce(app.rolname = current_user, false) AS app_is_current
FROM pg_roles r
CROSS JOIN pg_database d
LEFT JOIN pg_roles app ON app.rolname = %(app_role)s
WHERE r.rolname = current_user AND d.datname = current_database()
