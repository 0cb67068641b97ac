-- invalid_indexes: left behind by a failed CREATE INDEX CONCURRENTLY / REINDEX CONCURRENTLY.
-- Parameters: none.
SELECT n.nspname AS schema,
       c.relname AS index,
       i.indrelid::regclass::text AS "table",
       pg_relation_size(c.oid) AS bytes,
       pg_get_indexdef(c.oid) AS definition
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE NOT i.indisvalid
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
 ORDER BY 1, 2
