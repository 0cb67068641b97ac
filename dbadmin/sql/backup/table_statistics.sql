-- Planner statistics of each of the database's own tables after a restore: which parts are
-- missing (vacuumdb --missing-stats-only's rule: a column, an index expression or an extended
-- statistics object without statistics), reltuples, and autovacuum's analyze threshold.
-- Through the pg_stats / pg_stats_ext views, which the tables' owner can read (pg_statistic
-- itself is superuser-only, and Neon's roles are not superusers).
-- "rel" is user_relations.sql, joined in by backup/catalog.with_user_relations.
SELECT rel.nspname, rel.relname, c.reltuples::float8 AS reltuples,
       EXISTS (
           SELECT 1 FROM pg_attribute a
           WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
             AND a.attstattarget IS DISTINCT FROM 0 AND a.attgenerated <> 'v'
             AND NOT EXISTS (
                 SELECT 1 FROM pg_stats s
                 WHERE s.schemaname = rel.nspname AND s.tablename = rel.relname
                   AND s.attname = a.attname AND s.inherited = (c.relkind = 'p'))
       ) AS columns_missing,
       EXISTS (
           SELECT 1 FROM pg_index i
           JOIN pg_class ic ON ic.oid = i.indexrelid
           JOIN pg_attribute a ON a.attrelid = i.indexrelid
           WHERE i.indrelid = c.oid AND a.attnum > 0 AND i.indkey[a.attnum - 1] = 0
             AND a.attstattarget IS DISTINCT FROM 0
             AND NOT EXISTS (
                 SELECT 1 FROM pg_stats s
                 WHERE s.schemaname = rel.nspname AND s.tablename = ic.relname
                   AND s.attname = a.attname)
       ) AS expressions_missing,
       EXISTS (
           SELECT 1 FROM pg_statistic_ext e
           JOIN pg_namespace en ON en.oid = e.stxnamespace
           WHERE e.stxrelid = c.oid
             AND NOT EXISTS (
                 SELECT 1 FROM pg_stats_ext x
                 WHERE x.statistics_schemaname = en.nspname AND x.statistics_name = e.stxname)
       ) AS extended_missing,
       current_setting('autovacuum_analyze_threshold')::float8 AS analyze_threshold,
       current_setting('autovacuum_analyze_scale_factor')::float8 AS analyze_scale_factor
FROM rel
JOIN pg_class c ON c.oid = rel.oid
ORDER BY 1, 2
