-- partitions: each partition with its parent and bound, and each partitioned table's strategy
-- and key columns (expressions in a key show as NULL names).
SELECT p.relname AS parent, c.relname AS child, pg_get_expr(c.relpartbound, c.oid),
       pt.partstrat,
       ARRAY(SELECT a.attname::text FROM unnest(pt.partattrs::int2[]) WITH ORDINALITY u(n, i)
             LEFT JOIN pg_attribute a ON a.attrelid = p.oid AND a.attnum = u.n ORDER BY u.i)
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = %(schema)s AND c.relispartition
ORDER BY p.relname, c.relname
