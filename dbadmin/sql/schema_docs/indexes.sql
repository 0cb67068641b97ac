-- Indexes of the given relations: definition, key columns (NULL for an expression), partial.
SELECT i.indrelid AS oid,
       c.relname AS name,
       pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS unique,
       i.indisprimary AS primary,
       i.indpred IS NOT NULL AS partial,
       ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) k(attnum)
             LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum)::text[]
         AS columns,
       obj_description(c.oid, 'pg_class') AS comment
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = ANY (%(oids)s)
ORDER BY i.indrelid, c.relname
