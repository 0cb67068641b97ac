-- sequences: how much of its range each sequence has used, judged against the column it feeds
-- (a bigint sequence behind an integer column overflows at 2^31-1). Parameters: none.
SELECT s.schemaname AS schema,
       s.sequencename AS sequence,
       s.data_type::text AS sequence_type,
       s.last_value,
       s.increment_by,
       s.min_value,
       s.max_value,
       has_sequence_privilege(c.oid, 'SELECT,USAGE') AS readable,
       col.table_name,
       col.column_name,
       col.column_type,
       CASE col.column_type
            WHEN 'smallint' THEN 32767
            WHEN 'integer' THEN 2147483647
            ELSE 9223372036854775807 END::numeric AS column_max,
       CASE col.column_type
            WHEN 'smallint' THEN -32768
            WHEN 'integer' THEN -2147483648
            ELSE -9223372036854775808 END::numeric AS column_min
  FROM pg_sequences AS s
  JOIN pg_namespace AS n ON n.nspname = s.schemaname
  JOIN pg_class AS c ON c.relnamespace = n.oid AND c.relname = s.sequencename
  LEFT JOIN LATERAL (
        SELECT t.oid::regclass::text AS table_name,
               a.attname::text AS column_name,
               format_type(a.atttypid, NULL) AS column_type
          FROM pg_depend AS d
          JOIN pg_class AS t ON t.oid = d.refobjid
          JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
         WHERE d.classid = 'pg_class'::regclass
           AND d.objid = c.oid
           AND d.refclassid = 'pg_class'::regclass
           AND d.deptype IN ('a', 'i')
         LIMIT 1
       ) AS col ON true
