-- Installed extensions: version against the server's default, schema, relocatability.
SELECT e.extname AS name, e.extversion AS installed, a.default_version, n.nspname AS schema,
       e.extrelocatable AS relocatable
FROM pg_extension e
JOIN pg_namespace n ON n.oid = e.extnamespace
LEFT JOIN pg_available_extensions a ON a.name = e.extname
ORDER BY 1
