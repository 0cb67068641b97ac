-- Privileges granted to PUBLIC: on relations and sequences, EXECUTE on SECURITY DEFINER functions
-- (ordinary functions run with the caller's rights), and default privileges that give future
-- tables, sequences or schemas to PUBLIC.
SELECT 'relation' AS kind, n.nspname AS schema, c.relname AS name, c.relkind::text AS objtype,
       NULL::text AS args, NULL::text AS grantor,
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privileges
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL aclexplode(c.relacl) a
WHERE a.grantee = 0 AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
GROUP BY n.nspname, c.relname, c.relkind
UNION ALL
SELECT 'function', n.nspname, p.proname, p.prokind::text, pg_get_function_identity_arguments(p.oid),
       NULL, 'EXECUTE'
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE p.prosecdef
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
  AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
UNION ALL
SELECT 'default', n.nspname, NULL, d.defaclobjtype::text, NULL, pg_get_userbyid(d.defaclrole),
       string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
FROM pg_default_acl d
LEFT JOIN pg_namespace n ON n.oid = d.defaclnamespace
CROSS JOIN LATERAL aclexplode(d.defaclacl) a
WHERE a.grantee = 0 AND d.defaclobjtype IN ('r', 'S', 'n')
GROUP BY n.nspname, d.defaclobjtype, d.defaclrole
ORDER BY 1, 2, 3
