-- Every partition below the given partitioned tables (any depth), with its bound and, when it
-- is partitioned itself, its key.
SELECT root.oid AS oid,
       pn.nspname AS schema,
       pc.relname AS name,
       parn.nspname AS parent_schema,
       parc.relname AS parent_name,
       pg_get_expr(pc.relpartbound, pc.oid) AS bound,
       CASE WHEN pc.relkind = 'p' THEN pg_get_partkeydef(pc.oid) END AS partition_key,
       obj_description(pc.oid, 'pg_class') AS comment
FROM unnest(%(oids)s::oid[]) root(oid)
CROSS JOIN LATERAL pg_partition_tree(root.oid) t
JOIN pg_class pc ON pc.oid = t.relid
JOIN pg_namespace pn ON pn.oid = pc.relnamespace
JOIN pg_class parc ON parc.oid = t.parentrelid
JOIN pg_namespace parn ON parn.oid = parc.relnamespace
WHERE t.level > 0
ORDER BY root.oid, t.level, pn.nspname, pc.relname
