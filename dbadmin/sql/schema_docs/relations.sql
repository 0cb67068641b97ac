-- Tables (not partitions: they are listed on their root), views and materialized views of the
-- given schemas, skipping extension members. Estimates and sizes of a partitioned table add up
-- its leaf partitions.
SELECT c.oid AS oid,
       n.nspname AS schema,
       c.relname AS name,
       c.relkind::text AS kind,
       obj_description(c.oid, 'pg_class') AS comment,
       c.relrowsecurity AS rls_enabled,
       c.relforcerowsecurity AS rls_forced,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid, true) END AS definition,
       c.relispopulated AS populated,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT sum(GREATEST(l.reltuples, 0))::bigint FROM pg_partition_tree(c.oid) t
               JOIN pg_class l ON l.oid = t.relid WHERE t.isleaf)
            WHEN c.reltuples < 0 THEN NULL
            ELSE c.reltuples::bigint END AS row_estimate,
       CASE WHEN c.relkind = 'p' THEN
              (SELECT sum(pg_total_relation_size(t.relid))::bigint FROM pg_partition_tree(c.oid) t)
            ELSE pg_total_relation_size(c.oid) END AS total_bytes
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = ANY (%(schemas)s)
  AND c.relkind IN ('r', 'p', 'v', 'm')
  AND NOT c.relispartition
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY n.nspname, c.relname
