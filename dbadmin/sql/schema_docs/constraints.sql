-- Constraints of the given tables: keys, checks, exclusions and foreign keys (with the columns
-- on both sides). NOT NULL (pg_constraint rows from PostgreSQL 18 on) is the column's
-- nullability; a foreign key cloned onto partitions (conparentid <> 0) is its parent's.
SELECT con.conrelid AS oid,
       cn.nspname AS table_schema,
       cc.relname AS table_name,
       con.conname AS name,
       con.contype::text AS type,
       pg_get_constraintdef(con.oid) AS definition,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.ord)::text[] AS columns,
       fn.nspname AS ref_schema,
       fc.relname AS ref_name,
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.ord)::text[] AS ref_columns,
       obj_description(con.oid, 'pg_constraint') AS comment
FROM pg_constraint con
JOIN pg_class cc ON cc.oid = con.conrelid
JOIN pg_namespace cn ON cn.oid = cc.relnamespace
LEFT JOIN pg_class fc ON fc.oid = con.confrelid
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
WHERE (con.conrelid = ANY (%(oids)s) OR (con.contype = 'f' AND con.confrelid = ANY (%(oids)s)))
  AND con.contype <> 'n'
  AND con.conparentid = 0
ORDER BY con.conrelid, con.conname
