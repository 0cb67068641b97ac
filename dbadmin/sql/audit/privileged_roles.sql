-- Login roles with attributes or predefined-role memberships beyond reading and writing data.
SELECT r.rolname AS role,
       r.oid = 10 AS bootstrap,
       r.rolsuper AS superuser,
       r.rolbypassrls AS bypassrls,
       r.rolcreaterole AS createrole,
       r.rolcreatedb AS createdb,
       r.rolvaliduntil AS valid_until,
       array(SELECT g.rolname::text
               FROM pg_auth_members m
               JOIN pg_roles g ON g.oid = m.roleid
              WHERE m.member = r.oid
                AND g.rolname IN ('pg_read_all_data', 'pg_write_all_data',
                                  'pg_execute_server_program', 'pg_read_server_files',
                                  'pg_write_server_files')
              ORDER BY 1) AS predefined
FROM pg_roles r
WHERE r.rolcanlogin
ORDER BY r.rolname
