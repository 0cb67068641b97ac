-- matviews: materialized views of the schema (refreshed after a seed); populated or not.
SELECT c.relname, c.relispopulated
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind = 'm'
ORDER BY c.relname
