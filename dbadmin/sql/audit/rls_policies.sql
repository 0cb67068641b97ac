-- Every row-level security policy of the database's own schemas, with its expressions as SQL.
SELECT n.nspname AS schema, c.relname AS table, c.relrowsecurity AS rls, p.polname AS policy,
       p.polpermissive AS permissive, p.polcmd::text AS cmd,
       array(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END
               FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
ORDER BY 1, 2, 4
