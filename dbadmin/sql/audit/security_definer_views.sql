-- Views over tables with row-level security that run as their owner (no security_invoker): the
-- owner usually bypasses the policies, so every reader of the view sees every row.
SELECT n.nspname AS schema, v.relname AS view, pg_get_userbyid(v.relowner) AS owner,
       string_agg(DISTINCT quote_ident(tn.nspname) || '.' || quote_ident(t.relname), ', ')
           AS tables
FROM pg_class v
JOIN pg_namespace n ON n.oid = v.relnamespace
JOIN pg_rewrite rw ON rw.ev_class = v.oid
JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = rw.oid
                AND d.refclassid = 'pg_class'::regclass
JOIN pg_class t ON t.oid = d.refobjid AND t.oid <> v.oid AND t.relrowsecurity
JOIN pg_namespace tn ON tn.oid = t.relnamespace
WHERE v.relkind = 'v'
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND NOT EXISTS (SELECT 1 FROM unnest(v.reloptions) o
                  WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on',
                                     'security_invoker=1', 'security_invoker=yes'))
GROUP BY n.nspname, v.relname, v.relowner
ORDER BY 1, 2
