-- Schemas where PUBLIC (every role, present and future) may create objects.
SELECT n.nspname AS schema, pg_get_userbyid(n.nspowner) AS owner
FROM pg_namespace n
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND EXISTS (SELECT 1 FROM aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
              WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')
ORDER BY 1
