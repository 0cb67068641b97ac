-- Size, statistics freshness, indexes, column types, partition parent and the columns with at
-- most 10 distinct values (partial-index candidates) of the tables a plan touches (names: 'schema.table' texts). Index parts come from pg_get_indexdef, so expressions
-- and quoting read as in CREATE INDEX.
SELECT n.nspname || '.' || c.relname AS name,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::float8 END AS reltuples,
       c.relpages,
       s.n_mod_since_analyze,
       greatest(s.last_analyze, s.last_autoanalyze)::text AS last_analyze,
       (SELECT pn.nspname || '.' || p.relname
          FROM pg_inherits i
          JOIN pg_class p ON p.oid = i.inhparent AND p.relkind = 'p'
          JOIN pg_namespace pn ON pn.oid = p.relnamespace
         WHERE i.inhrelid = c.oid) AS partition_parent,
       (SELECT json_agg(json_build_object(
                   'name', ic.relname,
                   'columns', (SELECT json_agg(pg_get_indexdef(x.indexrelid, k, true) ORDER BY k)
                                 FROM generate_series(1, x.indnkeyatts) k),
                   'include', (SELECT json_agg(pg_get_indexdef(x.indexrelid, k, true) ORDER BY k)
                                 FROM generate_series(x.indnkeyatts + 1, x.indnatts) k),
                   'predicate', pg_get_expr(x.indpred, x.indrelid, true),
                   'method', am.amname,
                   'valid', x.indisvalid) ORDER BY ic.relname)
          FROM pg_index x
          JOIN pg_class ic ON ic.oid = x.indexrelid
          JOIN pg_am am ON am.oid = ic.relam
         WHERE x.indrelid = c.oid) AS indexes,
       (SELECT json_object_agg(a.attname, format_type(a.atttypid, a.atttypmod))
          FROM pg_attribute a
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS column_types,
       (SELECT json_agg(st.attname)
          FROM pg_stats st
         WHERE st.schemaname = n.nspname AND st.tablename = c.relname
           AND st.n_distinct BETWEEN 1 AND 10) AS few_values
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE n.nspname || '.' || c.relname = ANY (%(names)s)
