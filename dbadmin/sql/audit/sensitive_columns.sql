-- Columns named like passwords, secrets, tokens, API or private keys, card or social security
-- numbers, in the database's own tables.
SELECT n.nspname AS schema, c.relname AS table, a.attname AS column,
       format_type(a.atttypid, a.atttypmod) AS type, t.typcategory::text AS category
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND a.attnum > 0 AND NOT a.attisdropped
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND a.attname ~* '(passw|passwd|pwd|secret|token|api_?key|private_?key|access_?key|credential|ssn|credit_?card|card_?number|iban)'
ORDER BY 1, 2, a.attnum
