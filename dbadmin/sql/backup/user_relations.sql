-- The database's own relations: outside the system schemas and not members of an extension.
-- Parameter "relkinds": the pg_class.relkind letters wanted (r table, p partitioned, v view,
-- m materialized view, f foreign table). Used by backup (tables counted in the manifest) and
-- restore (is the target empty; what to ANALYZE; which tables to count); see backup/catalog.py.
-- No size or other function that locks a relation: this runs inside the dump's snapshot.
SELECT c.oid, n.nspname, c.relname, c.relkind::text AS relkind
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind::text = ANY (%(relkinds)s)
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\_toast%%' AND n.nspname NOT LIKE 'pg\_temp%%'
  AND NOT EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
