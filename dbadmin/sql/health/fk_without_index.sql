-- fk_without_index: foreign keys whose columns are not the leading columns (in any order) of a
-- valid, non-partial index on the referencing table: deletes/updates on the referenced table
-- then scan it. The suggestion is schema-qualified and quoted. Parameters: none.
SELECT c.conrelid::regclass::text AS "table",
       c.conname AS constraint_name,
       c.confrelid::regclass::text AS referenced_table,
       array_to_string(ARRAY(
           SELECT a.attname
             FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
            ORDER BY k.ord), ', ') AS columns,
       pg_relation_size(c.conrelid) AS table_bytes,
       format('CREATE INDEX CONCURRENTLY ON %%I.%%I (%%s);', tn.nspname, t.relname,
              array_to_string(ARRAY(
                  SELECT quote_ident(a.attname)
                    FROM unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
                   ORDER BY k.ord), ', ')) AS suggestion
  FROM pg_constraint AS c
  JOIN pg_namespace AS n ON n.oid = c.connamespace
  JOIN pg_class AS t ON t.oid = c.conrelid
  JOIN pg_namespace AS tn ON tn.oid = t.relnamespace
 WHERE c.contype = 'f'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (
        SELECT 1
          FROM pg_index AS i
         WHERE i.indrelid = c.conrelid
           AND i.indisvalid
           AND i.indpred IS NULL
           AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
           AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
 ORDER BY 1, 2
