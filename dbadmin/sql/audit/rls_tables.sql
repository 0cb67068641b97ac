-- Every table of the database's own schemas with its row-level security state, its policies and
-- the column that makes its rows per-user: one referencing a users table (users, accounts,
-- profiles, members, customers, tenants) or named like user_id / owner_id / tenant_id.
SELECT n.nspname AS schema, c.relname AS table, pg_get_userbyid(c.relowner) AS owner,
       c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies,
       uc.attname AS user_column, uc.type AS user_column_type,
       coalesce((SELECT pg_has_role(r.oid, c.relowner, 'USAGE')
                 FROM pg_roles r WHERE r.rolname = %(app_role)s), false)
           AS app_is_owner
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN LATERAL (
    SELECT a.attname::text, format_type(a.atttypid, a.atttypmod) AS type
    FROM pg_attribute a
    WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
      AND (a.attname IN ('user_id', 'owner_id', 'tenant_id', 'account_id', 'customer_id',
                         'member_id', 'profile_id', 'org_id', 'organization_id')
           OR EXISTS (SELECT 1 FROM pg_constraint k
                      JOIN pg_class r ON r.oid = k.confrelid
                      WHERE k.conrelid = c.oid AND k.contype = 'f' AND a.attnum = ANY (k.conkey)
                        AND r.relname IN ('users', 'user', 'accounts', 'profiles', 'members',
                                          'customers', 'tenants')))
    ORDER BY (a.attname = 'user_id') DESC, a.attnum
    LIMIT 1
) uc ON true
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1, 2
