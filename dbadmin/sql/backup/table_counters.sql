-- What the server itself counted into each of the database's own tables (cumulative statistics,
-- exact, not estimates). After a restore into tables the restore created, n_tup_ins =
-- n_live_tup = the rows loaded and n_tup_del = 0; see backup/postrestore.py.
-- "rel" is user_relations.sql, joined in by backup/catalog.with_user_relations.
SELECT rel.nspname, rel.relname, s.n_live_tup, s.n_tup_ins, s.n_tup_del
FROM rel
JOIN pg_stat_user_tables s ON s.relid = rel.oid
ORDER BY 1, 2
