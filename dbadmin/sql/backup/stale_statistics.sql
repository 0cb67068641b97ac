-- Tables whose planner statistics are stale on the source when it is backed up, by autovacuum's
-- own rule: rows changed since the last ANALYZE > autovacuum_analyze_threshold +
-- autovacuum_analyze_scale_factor * reltuples. The backup's manifest lists them, so that a
-- restore re-analyzes them instead of keeping the statistics the dump carried.
-- "rel" is user_relations.sql, joined in by backup/catalog.with_user_relations.
SELECT rel.nspname, rel.relname
FROM rel
JOIN pg_class c ON c.oid = rel.oid
JOIN pg_stat_user_tables s ON s.relid = rel.oid
WHERE s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::float8
        + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0)
   OR coalesce(s.last_analyze, s.last_autoanalyze) IS NULL
ORDER BY 1, 2
