-- Which views and materialized views read which relations (through their rewrite rules).
SELECT DISTINCT v.oid AS view_oid,
       vn.nspname AS view_schema,
       v.relname AS view_name,
       r.oid AS rel_oid,
       rn.nspname AS rel_schema,
       r.relname AS rel_name
FROM pg_depend d
JOIN pg_rewrite rw ON rw.oid = d.objid
JOIN pg_class v ON v.oid = rw.ev_class
JOIN pg_namespace vn ON vn.oid = v.relnamespace
JOIN pg_class r ON r.oid = d.refobjid
JOIN pg_namespace rn ON rn.oid = r.relnamespace
WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
  AND d.deptype = 'n' AND v.oid <> r.oid AND v.relkind IN ('v', 'm')
  AND r.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND (v.oid = ANY (%(oids)s) OR r.oid = ANY (%(oids)s))
