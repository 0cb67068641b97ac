-- For the tables that keep the planner statistics restored from the backup (PostgreSQL 18+):
-- the relation-level figures become those of the restored table, as ANALYZE would record them.
-- The backup's relpages describe the source's file, bloat included (the planner scales
-- reltuples by current pages / relpages, so a bloated source would shrink every estimate here);
-- its relallvisible counts pages that are not all-visible here until a VACUUM; and reltuples
-- becomes the exact row count. The column statistics stay: the data is the source's, row for
-- row. Parameters: arrays "schemas", "names" and "rows", one entry per table.
SELECT pg_catalog.pg_restore_relation_stats(
           'schemaname', t.schemaname,
           'relname', t.relname,
           'relpages', (pg_catalog.pg_relation_size(c.oid)
                        / current_setting('block_size')::bigint)::integer,
           'reltuples', t.reltuples::real,
           'relallvisible', 0::integer,
           'relallfrozen', 0::integer)
FROM unnest(%(schemas)s::text[], %(names)s::text[], %(rows)s::float8[])
         AS t(schemaname, relname, reltuples)
JOIN pg_catalog.pg_namespace n ON n.nspname = t.schemaname
JOIN pg_catalog.pg_class c ON c.relnamespace = n.oid AND c.relname = t.relname
