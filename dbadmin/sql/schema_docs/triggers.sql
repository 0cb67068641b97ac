-- User triggers of the given tables (not the internal ones behind foreign keys).
SELECT t.tgrelid AS oid,
       t.tgname AS name,
       pg_get_triggerdef(t.oid, true) AS definition,
       t.tgenabled <> 'D' AS enabled,
       obj_description(t.oid, 'pg_trigger') AS comment
FROM pg_trigger t
WHERE t.tgrelid = ANY (%(oids)s) AND NOT t.tgisinternal
ORDER BY t.tgrelid, t.tgname
