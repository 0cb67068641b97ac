-- What the application role %(app_role)s can do beyond reading and writing rows: objects it
-- owns, CREATE on schemas or the database, TRUNCATE/REFERENCES/TRIGGER on tables, membership in
-- an owner's role. ``public_too`` says PUBLIC holds the same right (revoking it from the role
-- alone would not remove it).
WITH app AS (
    SELECT oid, rolname FROM pg_roles WHERE rolname = %(app_role)s
), ns AS (
    SELECT oid, nspname, nspowner, nspacl
    FROM pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema') AND nspname NOT LIKE 'pg\_%%'
), rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, ns.nspname
    FROM pg_class c
    JOIN ns ON ns.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                        AND d.deptype IN ('e', 'a', 'i'))
)
SELECT 'owns_schema' AS kind, ns.nspname AS schema, NULL::text AS name, NULL::text AS relkind,
       NULL::text AS owner, false AS public_too
FROM ns JOIN app ON ns.nspowner = app.oid
UNION ALL
SELECT 'owns', rel.nspname, rel.relname, rel.relkind::text, NULL, false
FROM rel JOIN app ON rel.relowner = app.oid
UNION ALL
SELECT 'schema_create', ns.nspname, NULL, NULL, NULL,
       EXISTS (SELECT 1 FROM aclexplode(coalesce(ns.nspacl, acldefault('n', ns.nspowner))) a
               WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')
FROM ns CROSS JOIN app
WHERE ns.nspowner <> app.oid AND has_schema_privilege(app.oid, ns.oid, 'CREATE')
UNION ALL
SELECT 'table_rights', rel.nspname, rel.relname, rel.relkind::text,
       concat_ws(', ',
                 CASE WHEN has_table_privilege(app.oid, rel.oid, 'TRUNCATE') THEN 'TRUNCATE' END,
                 CASE WHEN has_table_privilege(app.oid, rel.oid, 'REFERENCES') THEN 'REFERENCES' END,
                 CASE WHEN has_table_privilege(app.oid, rel.oid, 'TRIGGER') THEN 'TRIGGER' END),
       EXISTS (SELECT 1 FROM aclexplode(coalesce(rel.relacl, acldefault('r', rel.relowner))) a
               WHERE a.grantee = 0 AND a.privilege_type IN ('TRUNCATE', 'REFERENCES', 'TRIGGER'))
FROM rel CROSS JOIN app
WHERE rel.relkind IN ('r', 'p') AND rel.relowner <> app.oid
  AND (has_table_privilege(app.oid, rel.oid, 'TRUNCATE')
       OR has_table_privilege(app.oid, rel.oid, 'REFERENCES')
       OR has_table_privilege(app.oid, rel.oid, 'TRIGGER'))
UNION ALL
SELECT DISTINCT 'member_of_owner', NULL, NULL, NULL, pg_get_userbyid(rel.relowner), false
FROM rel CROSS JOIN app
WHERE rel.relowner <> app.oid AND pg_has_role(app.oid, rel.relowner, 'USAGE')
UNION ALL
SELECT 'database_create', current_database(), NULL, NULL, NULL,
       EXISTS (SELECT 1 FROM pg_database d,
                      aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
               WHERE d.datname = current_database() AND a.grantee = 0
                 AND a.privilege_type = 'CREATE')
FROM app
WHERE has_database_privilege(app.oid, current_database(), 'CREATE')
  AND NOT EXISTS (SELECT 1 FROM pg_database d
                  WHERE d.datname = current_database() AND d.datdba = app.oid)
