-- columns: every column of the schema's tables and partitioned tables, with what a generator
-- needs that reflection loses (generated, identity, domain types, typmods).
SELECT c.relname, c.relkind, c.relispartition, a.attname, a.atttypid, a.atttypmod,
       a.attnotnull, a.attgenerated <> '' AS generated, a.attidentity, a.atthasdef
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum
