-- Constraints of the given tables (oids): primary keys, unique, checks, foreign keys, exclusions.
SELECT con.conrelid AS oid,
       con.conname AS name,
       CASE con.contype WHEN 'p' THEN 'primary key' WHEN 'u' THEN 'unique' WHEN 'c' THEN 'check'
            WHEN 'f' THEN 'foreign key' WHEN 'x' THEN 'exclusion' ELSE con.contype::text END AS type,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord)::text[] AS columns,
       CASE WHEN con.contype = 'f' THEN con.confrelid::regclass::text END AS references,
       con.convalidated AS validated
FROM pg_constraint con
WHERE con.conrelid = ANY (%(oids)s)
  AND con.contype <> 'n'  -- NOT NULL (PostgreSQL 18+): shown as the column's nullability
ORDER BY con.conrelid, con.contype, con.conname
