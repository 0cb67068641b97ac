-- constraints: CHECK and EXCLUDE constraints of the schema's tables, as the server prints them
-- (one normalised form whatever was written), with the columns they name.
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),
       ARRAY(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i)
             JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND k.contype IN ('c', 'x') AND k.conparentid = 0
  AND NOT (k.contype = 'c' AND k.coninhcount > 0)
ORDER BY c.relname, k.conname
