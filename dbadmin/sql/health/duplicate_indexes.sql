-- duplicate_indexes: an index whose key columns are a leading prefix of (or equal to) another
-- index of the same table, same access method, expressions, predicate and operator classes.
-- A unique index is only redundant next to a unique index on exactly the same keys.
-- Parameters: none.
WITH idx AS (
    SELECT i.indexrelid,
           i.indrelid,
           i.indisunique,
           i.indisprimary,
           i.indnatts = i.indnkeyatts AS no_include,
           array_to_string((i.indkey::int2[])[0:i.indnkeyatts - 1], ' ') AS keys,
           array_to_string((i.indclass::oid[])[0:i.indnkeyatts - 1], ' ') AS opclasses,
           array_to_string((i.indcollation::oid[])[0:i.indnkeyatts - 1], ' ') AS collations,
           coalesce(pg_get_expr(i.indexprs, i.indrelid), '') AS exprs,
           coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS pred,
           am.amname
      FROM pg_index AS i
      JOIN pg_class AS c ON c.oid = i.indexrelid
      JOIN pg_am AS am ON am.oid = c.relam
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE i.indisvalid
       AND n.nspname NOT IN ('pg_catalog', 'information_schema')
       AND n.nspname !~ '^pg_toast'
)
SELECT DISTINCT ON (a.indexrelid)
       a.indexrelid::regclass::text AS index,
       b.indexrelid::regclass::text AS covered_by,
       a.indrelid::regclass::text AS "table",
       pg_relation_size(a.indexrelid) AS bytes,
       pg_get_indexdef(a.indexrelid) AS definition,
       pg_get_indexdef(b.indexrelid) AS covered_by_definition
  FROM idx AS a
  JOIN idx AS b
    ON b.indrelid = a.indrelid
   AND b.indexrelid <> a.indexrelid
   AND b.amname = a.amname
   AND b.exprs = a.exprs
   AND b.pred = a.pred
 WHERE (
        -- exactly the same keys: report one of the two (keep the primary key / older index)
        (b.keys = a.keys AND b.opclasses = a.opclasses AND b.collations = a.collations
         AND a.no_include AND b.no_include
         AND a.indisunique = b.indisunique
         AND NOT a.indisprimary
         AND (b.indisprimary OR b.indexrelid < a.indexrelid))
        -- a unique index makes a plain index on the same keys redundant
     OR (b.keys = a.keys AND b.opclasses = a.opclasses AND b.collations = a.collations
         AND a.no_include AND b.indisunique AND NOT a.indisunique)
        -- a btree's leading columns serve a narrower plain index
     OR (a.amname = 'btree' AND a.exprs = '' AND a.no_include AND NOT a.indisunique
         AND b.keys LIKE a.keys || ' %%'
         AND b.opclasses LIKE a.opclasses || ' %%'
         AND b.collations LIKE a.collations || ' %%')
       )
 ORDER BY a.indexrelid, b.indisprimary DESC, b.indexrelid
