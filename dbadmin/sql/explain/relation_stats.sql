-- Size and statistics freshness of the tables a plan touches (names: 'schema.table' texts).
SELECT n.nspname || '.' || c.relname AS name,
       CASE WHEN c.reltuples < 0 THEN NULL ELSE c.reltuples::float8 END AS reltuples,
       c.relpages,
       s.n_mod_since_analyze,
       greatest(s.last_analyze, s.last_autoanalyze)::text AS last_analyze
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid
WHERE n.nspname || '.' || c.relname = ANY (%(names)s)
