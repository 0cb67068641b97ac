-- Indexes of the given tables (oids).
SELECT i.indrelid AS oid,
       c.relname AS name,
       pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS unique,
       i.indisprimary AS primary,
       i.indisvalid AS valid,
       pg_relation_size(i.indexrelid) AS size_bytes
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = ANY (%(oids)s)
ORDER BY i.indrelid, c.relname
